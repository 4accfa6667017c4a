//! `soda-gateway events list|show` and `actions list|retry`: the audit trail from the command
//! line, read from the store of a configuration (a serving gateway picks retried actions up
//! within its `poll_interval`).

use std::path::Path;

use anyhow::{anyhow, bail};

use crate::admin::query::{format_instant, ActionQuery, EventQuery};
use crate::config::Config;
use crate::store::{ActionView, EventStory, RetryOutcome, Store};

/// `events list` filters.
#[derive(Debug, Clone, clap::Args)]
pub struct EventFilterArgs {
    #[arg(long)]
    tenant: Option<String>,
    /// Soda's event type, e.g. `checkEvaluation`.
    #[arg(long = "type")]
    event_type: Option<String>,
    /// done, pending or failed.
    #[arg(long)]
    status: Option<String>,
    /// Received since: an RFC 3339 time or an age such as `2h`.
    #[arg(long)]
    since: Option<String>,
    /// Received before: an RFC 3339 time or an age.
    #[arg(long)]
    until: Option<String>,
    /// At most this many (1 to 1000).
    #[arg(long, default_value_t = 50)]
    limit: i64,
}

/// `actions list` filters.
#[derive(Debug, Clone, clap::Args)]
pub struct ActionFilterArgs {
    #[arg(long)]
    tenant: Option<String>,
    #[arg(long)]
    plugin: Option<String>,
    /// pending, succeeded or failed.
    #[arg(long)]
    status: Option<String>,
    /// Only the actions of this event.
    #[arg(long)]
    event: Option<String>,
    /// At most this many (1 to 1000).
    #[arg(long, default_value_t = 50)]
    limit: i64,
}

/// Prints stored events, newest first.
pub async fn list_events(config: &Path, args: &EventFilterArgs, json: bool) -> anyhow::Result<()> {
    let filter = EventQuery {
        tenant: args.tenant.clone(),
        event_type: args.event_type.clone(),
        status: args.status.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
        limit: Some(args.limit),
    }
    .to_filter()
    .map_err(|reason| anyhow!(reason))?;
    let events = open(config).await?.events(&filter).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&events)?);
        return Ok(());
    }
    if events.is_empty() {
        println!("no events");
    }
    for event in events {
        println!(
            "{}  {}  {:<8} tenant={} type={} plugins={} errors={} actions={} pending={} failed={}{}",
            event.id,
            format_instant(event.received_at),
            event.status.as_str(),
            event.tenant,
            event.event_type,
            event.plugin_runs,
            event.plugin_errors,
            event.actions,
            event.pending,
            event.failed,
            event
                .replay_of
                .map(|of| format!(" replay_of={of}"))
                .unwrap_or_default(),
        );
    }
    Ok(())
}

/// Prints one event's whole story.
pub async fn show_event(config: &Path, id: &str, json: bool) -> anyhow::Result<()> {
    let Some(story) = open(config).await?.event_story(id).await? else {
        bail!("no event `{id}`");
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&story)?);
    } else {
        print!("{}", render_story(&story));
    }
    Ok(())
}

/// Prints HTTP actions, newest first.
pub async fn list_actions(
    config: &Path,
    args: &ActionFilterArgs,
    json: bool,
) -> anyhow::Result<()> {
    let filter = ActionQuery {
        tenant: args.tenant.clone(),
        plugin: args.plugin.clone(),
        status: args.status.clone(),
        event: args.event.clone(),
        limit: Some(args.limit),
    }
    .to_filter()
    .map_err(|reason| anyhow!(reason))?;
    let actions = open(config).await?.actions(&filter).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&actions)?);
        return Ok(());
    }
    if actions.is_empty() {
        println!("no actions");
    }
    for action in &actions {
        println!("{}", action_line(action));
    }
    Ok(())
}

/// Sends the given actions again; fails if any could not be.
pub async fn retry_actions(config: &Path, ids: &[String]) -> anyhow::Result<()> {
    let store = open(config).await?;
    let mut refused = 0;
    for id in ids {
        let said = match store.retry_action(id).await? {
            RetryOutcome::Requeued => "requeued from a fresh retry schedule",
            RetryOutcome::DueNow => "due now",
            RetryOutcome::AlreadySucceeded => {
                refused += 1;
                "already delivered (replay its event to send it again)"
            }
            RetryOutcome::NotFound => {
                refused += 1;
                "no such HTTP action"
            }
        };
        println!("{id}: {said}");
    }
    if refused > 0 {
        bail!("{refused} of {} action(s) were not retried", ids.len());
    }
    Ok(())
}

fn action_line(action: &ActionView) -> String {
    format!(
        "{}  {}  {:<9} tenant={} plugin={} event={} attempts={}  {} {}{}",
        action.id,
        format_instant(action.created_at),
        action.status,
        action.tenant,
        action.plugin,
        action.event_id,
        action.attempts,
        action.method,
        action.url,
        action
            .last_error
            .as_deref()
            .map(|error| format!("\n    last error: {error}"))
            .unwrap_or_default(),
    )
}

/// The story as indented text, in the order things happened.
fn render_story(story: &EventStory) -> String {
    use std::fmt::Write as _;
    let event = &story.event;
    let mut out = String::new();
    let _ = writeln!(out, "event     {}", event.id);
    let _ = writeln!(out, "tenant    {}", event.tenant);
    let _ = writeln!(out, "type      {}", event.event_type);
    let _ = writeln!(out, "received  {}", format_instant(event.received_at));
    let _ = writeln!(out, "status    {}", event.status.as_str());
    if let Some(of) = &event.replay_of {
        let _ = writeln!(out, "replay of {of}");
    }
    for replay in &story.replays {
        let _ = writeln!(out, "replayed  as {replay}");
    }
    let _ = writeln!(out, "headers");
    for (name, value) in &story.headers {
        let _ = writeln!(out, "  {name}: {value}");
    }
    let _ = writeln!(out, "body");
    let body = serde_json::from_str::<serde_json::Value>(&story.body)
        .and_then(|value| serde_json::to_string_pretty(&value))
        .unwrap_or_else(|_| story.body.clone());
    for line in body.lines() {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out, "plugin runs");
    for run in &story.runs {
        let _ = writeln!(
            out,
            "  {} ({}) {} in {} µs{}",
            run.plugin,
            run.phase,
            if run.ok { "ok" } else { "error" },
            run.duration_us,
            run.error
                .as_deref()
                .map(|error| format!(": {error}"))
                .unwrap_or_default(),
        );
    }
    let _ = writeln!(out, "actions");
    for action in &story.actions {
        let _ = writeln!(
            out,
            "  {} {} {} {} [{}] by {}",
            action.id, action.kind, action.method, action.url, action.status, action.plugin
        );
        for attempt in &action.attempt_log {
            let _ = writeln!(
                out,
                "    attempt {}  {} ms  {}",
                format_instant(attempt.started_at),
                attempt.duration_ms,
                match (&attempt.status_code, &attempt.error) {
                    (Some(code), None) => format!("HTTP {code}"),
                    (Some(code), Some(error)) => format!("HTTP {code}: {error}"),
                    (None, Some(error)) => error.clone(),
                    (None, None) => "-".into(),
                }
            );
        }
    }
    out
}

async fn open(config: &Path) -> anyhow::Result<Store> {
    let config = Config::load(config)?;
    Store::open(&config.database()?).await
}
