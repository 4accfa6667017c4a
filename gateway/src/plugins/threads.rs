//! The threads plugin calls run on: a runtime of their own with one thread per core.
//!
//! Calls are futures (they yield at every epoch tick and in host calls), so a few threads serve
//! any number of them. On the request threads they would crowd the delivery worker out; on a
//! blocking thread each (`spawn_blocking` + `block_on`) every call woke or started a thread of
//! its own, and under load dozens of them contended for two cores.

use std::future::Future;

use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

/// A runtime for plugin calls; shut down, without waiting for its calls, when dropped.
pub struct PluginThreads {
    runtime: Option<Runtime>,
}

impl PluginThreads {
    /// Starts one thread per core (at least two).
    pub fn start() -> std::io::Result<Self> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("plugin-call")
            // Host calls may read state from the store (I/O) and calls are timed.
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// Runs `call` on the plugin threads.
    pub fn spawn<F>(&self, call: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime
            .as_ref()
            .expect("the plugin threads run until dropped")
            .spawn(call)
    }
}

impl Drop for PluginThreads {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
