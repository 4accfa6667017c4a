//! Stopping without losing work. A [`Drain`] is a signal given once (SIGTERM, Ctrl-C, or the
//! gateway itself moving to its next step) that whoever holds a copy watches: `/readyz`
//! answers 503 from then on, the listener stops accepting, and the delivery worker and the
//! continuation loop finish what they are doing instead of taking more.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tokio::sync::watch;

/// A stop signal, given at most once; cheap to clone.
#[derive(Clone)]
pub struct Drain {
    signal: Arc<watch::Sender<bool>>,
    started_at: Arc<OnceLock<Instant>>,
}

impl Default for Drain {
    fn default() -> Self {
        Self {
            signal: Arc::new(watch::Sender::new(false)),
            started_at: Arc::default(),
        }
    }
}

impl Drain {
    /// Gives the signal; later calls change nothing.
    pub fn start(&self) {
        self.started_at.get_or_init(Instant::now);
        self.signal.send_replace(true);
    }

    /// Whether the signal was given.
    pub fn is_started(&self) -> bool {
        *self.signal.borrow()
    }

    /// When the signal was given, if it was.
    pub fn started_at(&self) -> Option<Instant> {
        self.started_at.get().copied()
    }

    /// Resolves once the signal is given (at once if it was).
    pub async fn started(&self) {
        let mut watcher = self.signal.subscribe();
        // `wait_for` fails only when the sender is gone, which this handle prevents.
        let _ = watcher.wait_for(|started| *started).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_copy_sees_the_signal_once_given() {
        let drain = Drain::default();
        let copy = drain.clone();
        assert!(!copy.is_started());
        assert!(copy.started_at().is_none());
        let waiting = tokio::spawn(async move { copy.started().await });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "waits until the signal is given");
        drain.start();
        waiting.await.unwrap();
        let first = drain.started_at().unwrap();
        drain.start();
        assert_eq!(drain.started_at(), Some(first), "given once");
        assert!(drain.is_started());
        drain.started().await;
    }
}
