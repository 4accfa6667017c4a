//! `soda-gateway dlq list|retry` and `soda-gateway events replay`: for operators, on the store
//! of a configuration, whether or not a gateway is serving it (a serving gateway picks requeued
//! and replayed actions up within its `poll_interval`).

use std::path::Path;
use std::sync::Arc;

use anyhow::bail;
use tokio::sync::Notify;

use crate::config::Config;
use crate::pipeline::Pipeline;
use crate::store::Store;

/// Prints the dead letters, newest first.
pub async fn list_dead_letters(config: &Path) -> anyhow::Result<()> {
    let store = open(config).await?;
    let letters = store.dead_letters(1000).await?;
    if letters.is_empty() {
        println!("no dead letters");
    }
    for letter in letters {
        println!(
            "{}  tenant={} plugin={} event={} attempts={}  {} {}\n    last error: {}",
            letter.id,
            letter.tenant,
            letter.plugin,
            letter.event_id,
            letter.attempts,
            letter.method,
            letter.url,
            letter.last_error.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
}

/// Requeues the given dead letters, or all of them.
pub async fn retry_dead_letters(config: &Path, ids: &[String], all: bool) -> anyhow::Result<()> {
    if ids.is_empty() != all {
        bail!("name the dead letters to retry, or pass --all (not both)");
    }
    let store = open(config).await?;
    let retried = store.retry_dead_letters(ids).await?;
    println!("requeued {retried} dead letter(s)");
    if !all && retried < ids.len() as u64 {
        bail!(
            "{} of the ids are not dead letters",
            ids.len() as u64 - retried
        );
    }
    Ok(())
}

/// Runs a stored event through the plugins in the configured folder now.
pub async fn replay(config_path: &Path, event_id: &str) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let store = Store::open(&config.database()?).await?;
    let pipeline = Pipeline::build(&config, store, Arc::new(Notify::new())).await?;
    let accepted = pipeline.replay(event_id).await?;
    println!("replayed {event_id} as {}", accepted.event_id);
    for run in &accepted.runs {
        match &run.outcome {
            Ok(produced) => println!("  {}: ok, {} action(s)", run.plugin, produced.actions.len()),
            Err(reason) => println!("  {}: {reason}", run.plugin),
        }
    }
    Ok(())
}

async fn open(config: &Path) -> anyhow::Result<Store> {
    let config = Config::load(config)?;
    Store::open(&config.database()?).await
}
