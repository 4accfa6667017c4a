//! Wiring: from a validated [`Config`] to a serving gateway.
//!
//! [`Gateway::start`] opens the store, loads the plugins, starts watching their folder and
//! starts the delivery worker;
//! [`Gateway::serve`] answers webhooks on a listener until `shutdown` resolves, which keeps the
//! server testable and lets `main` decide about signals.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::actions::continuations::Continuations;
use crate::actions::policy::OutboundPolicy;
use crate::actions::secrets::Secrets;
use crate::actions::worker::Worker;
use crate::admin;
use crate::config::{Config, Retention};
use crate::console;
use crate::drain::Drain;
use crate::ingress::{self, Ingress};
use crate::pipeline::{Pipeline, PluginResponses};
use crate::plugins::watcher;
use crate::store::{now_ms, Store};
use crate::tenant_reload;
use crate::watch::FolderWatcher;

/// A started gateway: store open, plugins loaded, worker running.
pub struct Gateway {
    pipeline: Arc<Pipeline>,
    max_body_bytes: usize,
    admin_token: Option<String>,
    /// The delivery worker, the continuation loop and the housekeeping tasks.
    background: Background,
    /// The configuration the gateway started with (tenants reloads replace only its tenants).
    config: Config,
    /// The tenants' secrets, swapped with the tenants on reload.
    secrets: Arc<ArcSwap<Secrets>>,
    /// Hot reload of plugins runs as long as this lives.
    _plugin_watcher: FolderWatcher,
    /// Hot reload of tenants, once [`Gateway::reload_tenants_from`] started it.
    tenant_watcher: Option<FolderWatcher>,
}

impl Gateway {
    /// Opens the store, loads the plugins, watches their folder and starts the delivery worker.
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let store = Store::open(&config.database()?).await?;
        if store.database().single_process() {
            store.release_leases().await?;
        }
        let wake_worker = Arc::new(Notify::new());
        let pipeline = Pipeline::build(&config, store.clone(), wake_worker.clone()).await?;
        let plugin_watcher = watcher::watch(pipeline.plugins.clone())?;
        let wake_continuations = Arc::new(Notify::new());
        let secrets = Arc::new(ArcSwap::from_pointee(Secrets::load(&config.tenants)?));
        let worker = Worker::new(
            store.clone(),
            config.delivery.clone(),
            OutboundPolicy::new(&config.outbound),
            secrets.clone(),
            wake_worker.clone(),
            wake_continuations.clone(),
            pipeline.metrics.clone(),
        )?
        .with_traces(pipeline.traces.clone());
        let continuations = Continuations {
            store,
            handler: Arc::new(PluginResponses(pipeline.clone())),
            wake: wake_continuations,
            poll_interval: config.delivery.poll_interval,
            lease: config.delivery.lease,
        };
        let stop = Drain::default();
        let background = Background {
            drained: vec![
                tokio::spawn(worker.run(stop.clone())),
                tokio::spawn(continuations.run(stop.clone())),
            ],
            stopped: vec![
                tokio::spawn(pipeline.store.clone().keep_backlog_counts()),
                tokio::spawn(prune_old_events(
                    pipeline.store.clone(),
                    config.retention.clone(),
                )),
            ],
            stop,
        };
        Ok(Self {
            pipeline,
            max_body_bytes: config.max_body_bytes,
            admin_token: config.admin.token.clone(),
            background,
            config,
            secrets,
            _plugin_watcher: plugin_watcher,
            tenant_watcher: None,
        })
    }

    /// Watches the config file at `path` and reloads its tenants when it changes (see
    /// [`tenant_reload`]).
    pub fn reload_tenants_from(&mut self, path: &std::path::Path) -> anyhow::Result<()> {
        self.tenant_watcher = Some(tenant_reload::watch(
            path,
            self.config.clone(),
            self.pipeline.clone(),
            self.secrets.clone(),
        )?);
        Ok(())
    }

    /// Serves webhooks on `listener` until `shutdown` completes, then drains within
    /// `shutdown_grace`: `/readyz` fails at once, the listener stops accepting and answers the
    /// requests in flight, then the running deliveries finish and the waiting ones are
    /// released (see `actions::worker`).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let draining = Drain::default();
        let traces = self.pipeline.traces.clone();
        let ingress = Ingress::new(
            self.pipeline.clone(),
            self.config.listener.body_timeout,
            draining.clone(),
        );
        let mut app = ingress::router(ingress, self.max_body_bytes);
        if let Some(token) = self.admin_token {
            let quotas = self.config.quotas.clone();
            let failed = Arc::new(admin::throttle::FailedAuth::default());
            let admin = admin::router(
                self.pipeline.clone(),
                token.clone(),
                quotas.clone(),
                failed.clone(),
            );
            // The console's cookie is `Secure` when the gateway serves HTTPS.
            let secure = self.config.tls.is_some();
            let console =
                console::router(self.pipeline, &self.config.admin, secure, quotas, failed);
            app = app.merge(admin).merge(console);
        }
        let tls = self
            .config
            .tls
            .as_ref()
            .map(crate::tls::acceptor)
            .transpose()?;
        let grace = self.config.shutdown_grace;
        let signalled = {
            let draining = draining.clone();
            async move {
                shutdown.await;
                tracing::info!(
                    grace = %humantime::format_duration(grace),
                    "draining: no new connections, finishing requests and deliveries in flight"
                );
                draining.start();
            }
        };
        crate::listener::serve(listener, tls, app, &self.config.listener, signalled, grace).await;
        let started = draining.started_at().unwrap_or_else(Instant::now);
        self.background
            .stop(grace.saturating_sub(started.elapsed()))
            .await;
        traces.shutdown().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The tasks that run beside the listener.
struct Background {
    /// Stopped by `stop` and waited for: they finish what they hold.
    drained: Vec<JoinHandle<()>>,
    /// Aborted: they hold nothing.
    stopped: Vec<JoinHandle<()>>,
    stop: Drain,
}

impl Background {
    /// Stops every task, giving the drained ones up to `left` to finish.
    async fn stop(mut self, left: Duration) {
        for task in &self.stopped {
            task.abort();
        }
        self.stop.start();
        let finished = tokio::time::timeout(left, async {
            for task in &mut self.drained {
                let _ = task.await;
            }
        })
        .await;
        if finished.is_err() {
            tracing::warn!("the shutdown grace period ran out before the deliveries in flight finished; they are sent again once their leases run out");
            for task in &self.drained {
                task.abort();
            }
        }
    }
}

/// Deletes finished events older than the retention, every `retention.every`.
async fn prune_old_events(store: Store, retention: Retention) {
    let mut ticks = tokio::time::interval(retention.every);
    loop {
        ticks.tick().await;
        let cutoff = now_ms() - retention.keep.as_millis() as i64;
        match store.prune(cutoff).await {
            Ok(pruned) if pruned.events > 0 => tracing::info!(
                events = pruned.events,
                actions = pruned.actions,
                attempts = pruned.attempts,
                "pruned finished events past retention"
            ),
            Ok(_) => {}
            Err(error) => tracing::error!("cannot prune old events: {error:#}"),
        }
    }
}
