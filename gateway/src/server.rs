//! Wiring: from a validated [`Config`] to a serving gateway.
//!
//! [`Gateway::start`] opens the store, loads the plugins and starts the delivery worker;
//! [`Gateway::serve`] answers webhooks on a listener until `shutdown` resolves, which keeps the
//! server testable and lets `main` decide about signals.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::actions::worker::Worker;
use crate::config::Config;
use crate::ingress::{self, Ingress, TenantEntry};
use crate::plugins::{Registry, Runtime};
use crate::store::Store;

/// A started gateway: store open, plugins loaded, worker running.
pub struct Gateway {
    ingress: Arc<Ingress>,
    max_body_bytes: usize,
    worker: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Opens the store, loads the plugins and starts the delivery worker.
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let store = Store::open(&config.data_dir).await?;
        let runtime = Runtime::new(&config.plugin_limits)?;
        let plugins_dir = config.plugins_dir.clone();
        let registry =
            tokio::task::spawn_blocking(move || Registry::load_dir(runtime, &plugins_dir))
                .await
                .context("plugin loading panicked")??;
        let mut tenants = std::collections::HashMap::new();
        for tenant in config.tenants {
            for plugin in &tenant.plugins {
                if !registry.contains(&plugin.name) {
                    tracing::warn!(tenant = %tenant.id, plugin = %plugin.name, "enabled plugin is not loaded; its runs will be recorded as errors");
                }
            }
            tenants.insert(tenant.id.clone(), TenantEntry::new(tenant)?);
        }
        let wake_worker = Arc::new(Notify::new());
        let worker = Worker::new(store.clone(), config.delivery, wake_worker.clone())?;
        let worker = tokio::spawn(worker.run());
        let ingress = Arc::new(Ingress {
            tenants,
            plugins: Arc::new(registry),
            store,
            wake_worker,
        });
        Ok(Self {
            ingress,
            max_body_bytes: config.max_body_bytes,
            worker,
        })
    }

    /// Serves webhooks on `listener` until `shutdown` completes, then stops the worker.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let app = ingress::router(self.ingress, self.max_body_bytes);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .context("server error")?;
        self.worker.abort();
        Ok(())
    }
}
