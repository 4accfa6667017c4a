//! The fast path from the writer to the delivery worker: an HTTP action is leased to this
//! process in the transaction that stores it and handed to the worker's queue once committed,
//! so a new action costs no claim and no poll. The worker's poll (with leases) stays for what
//! this path does not carry: retries, a restart's backlog, other replicas' expired leases, and
//! actions stored while the worker's queue was full.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::mpsc::{self, OwnedPermit};
use tokio::sync::Notify;

use super::{DueAction, Store};

/// Where committed actions go, once a worker has asked for them.
pub(super) struct Route {
    queue: mpsc::Sender<DueAction>,
    lease: i64,
    /// Wakes the worker's poll for actions stored without a lease (the queue was full).
    wake: Arc<Notify>,
}

/// A reserved place in the worker's queue with the lease the action is stored with.
pub(super) struct Reserved {
    pub permit: OwnedPermit<DueAction>,
    pub lease_until: i64,
}

/// What a committed batch sets in motion; dropped with a batch that does not commit (the
/// reserved places are then given back).
#[derive(Default)]
pub(super) struct Effects {
    handed_over: Vec<(OwnedPermit<DueAction>, DueAction)>,
    /// Changes to tenants' backlog counts.
    backlog: Vec<(String, i64)>,
    /// Actions were stored without a lease: the worker's poll must find them.
    wake_poll: bool,
}

impl Effects {
    /// A new pending HTTP action: its lease and place in the worker's queue if there is room
    /// (then hand it over with [`Effects::hand_over`]), `None` to leave it to the poll.
    pub(super) fn reserve(&mut self, route: Option<&Route>, now: i64) -> Option<Reserved> {
        let reserved = route.and_then(|route| {
            let permit = route.queue.clone().try_reserve_owned().ok()?;
            Some(Reserved {
                permit,
                lease_until: now + route.lease,
            })
        });
        self.wake_poll |= reserved.is_none();
        reserved
    }

    pub(super) fn hand_over(&mut self, permit: OwnedPermit<DueAction>, action: DueAction) {
        self.handed_over.push((permit, action));
    }

    pub(super) fn backlog(&mut self, tenant: &str, change: i64) {
        self.backlog.push((tenant.to_owned(), change));
    }
}

/// The route and the backlog counts, shared by the store's handles and its writer.
#[derive(Default)]
pub(super) struct Shared {
    pub route: OnceLock<Route>,
    pub backlog: super::backlog::Backlog,
}

impl Shared {
    /// Applies the effects of a batch that committed.
    pub(super) fn publish(&self, effects: Effects) {
        for (permit, action) in effects.handed_over {
            permit.send(action);
        }
        for (tenant, change) in &effects.backlog {
            self.backlog.add(tenant, *change);
        }
        if effects.wake_poll {
            if let Some(route) = self.route.get() {
                route.wake.notify_one();
            }
        }
    }
}

impl Store {
    /// Hands every HTTP action stored from now on straight to the returned queue (up to
    /// `capacity` waiting), leased to this process for `lease`. Actions stored while the queue
    /// is full are left unleased and `wake` is notified so the poll finds them. Only one
    /// worker per store may take the route; `None` if one already has.
    pub fn deliver_directly(
        &self,
        capacity: usize,
        lease: Duration,
        wake: Arc<Notify>,
    ) -> Option<mpsc::Receiver<DueAction>> {
        let (queue, receiver) = mpsc::channel(capacity);
        let route = Route {
            queue,
            lease: lease.as_millis() as i64,
            wake,
        };
        self.shared.route.set(route).ok()?;
        Some(receiver)
    }
}
