//! Chained actions: hands stored responses back to the plugins that asked for them.
//!
//! The worker stores the response of a finished HTTP action that set a continuation, in the same
//! transaction as its last attempt. This loop then leases it, runs the plugin's `on-response`
//! (through a [`ResponseHandler`], which knows the plugins) and stores the run, its new actions
//! and state writes, marking the continuation done, again in one transaction. A restart in
//! between finds the continuation still pending and runs it then.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::drain::Drain;
use crate::records::PluginRun;
use crate::store::{PendingContinuation, Store};

/// Continuations claimed at once.
const BATCH: usize = 8;

/// What handling a response came to: the plugin's run, or `None` when the plugin could not run
/// now (no instance free) and the continuation should be tried again later.
pub type Handled = Option<PluginRun>;

/// Runs a plugin's `on-response` for a stored response.
pub trait ResponseHandler: Send + Sync + 'static {
    /// Runs the plugin on the response in `pending`.
    fn handle<'a>(
        &'a self,
        pending: &'a PendingContinuation,
        event_body: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Handled> + Send + 'a>>;
}

/// The continuation loop and what it needs.
pub struct Continuations {
    pub store: Store,
    pub handler: Arc<dyn ResponseHandler>,
    /// Wakes this loop when the worker stored a response.
    pub wake: Arc<Notify>,
    pub poll_interval: Duration,
    /// How long a claimed response belongs to this process (`delivery.lease`).
    pub lease: Duration,
}

impl Continuations {
    /// Runs until `stop` is given (the response in hand is completed first; the others
    /// claimed with it are taken again once their lease runs out) or the task is dropped.
    pub async fn run(self, stop: Drain) {
        while !stop.is_started() {
            let pending = match self.store.claim_continuations(BATCH, self.lease).await {
                Ok(pending) => pending,
                Err(error) => {
                    tracing::error!("cannot claim continuations: {error:#}");
                    Vec::new()
                }
            };
            if pending.is_empty() {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.poll_interval) => {}
                    () = stop.started() => {}
                }
                continue;
            }
            for continuation in pending {
                if stop.is_started() {
                    break;
                }
                if let Err(error) = self.complete(continuation).await {
                    // The lease runs out and the continuation is tried again.
                    tracing::error!("cannot complete continuation: {error:#}");
                }
            }
        }
    }

    async fn complete(&self, pending: PendingContinuation) -> anyhow::Result<()> {
        let body = self.store.event_body(&pending.event_id).await?;
        let Some(run) = self.handler.handle(&pending, &body).await else {
            // Left leased: the lease runs out and the continuation is tried again.
            return Ok(());
        };
        if let Err(reason) = &run.outcome {
            tracing::warn!(tenant = %pending.tenant, plugin = %pending.plugin, event_id = %pending.event_id, action = %pending.action_id, "on-response {reason}");
        }
        self.store.complete_continuation(&pending, &run).await
    }
}
