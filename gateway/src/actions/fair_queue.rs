//! The delivery worker's queue: actions wait per tenant and leave in turns, one tenant after
//! another, and a tenant never has more than its share of the worker's slots. So one tenant's
//! slow or black-holed host cannot hold every slot, nor delay another tenant's first attempt
//! behind its own backlog.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::store::DueAction;

/// Actions waiting for a delivery slot, by tenant.
pub struct FairQueue {
    /// Slots one tenant may hold at once.
    per_tenant: usize,
    waiting: HashMap<String, VecDeque<DueAction>>,
    /// Tenants with waiting actions and a free slot, in turn order.
    turns: VecDeque<String>,
    /// Tenants with waiting actions whose slots are all taken.
    at_limit: HashSet<String>,
    running: HashMap<String, usize>,
    len: usize,
}

impl FairQueue {
    /// An empty queue that gives each tenant at most `per_tenant` slots.
    pub fn new(per_tenant: usize) -> Self {
        Self {
            per_tenant: per_tenant.max(1),
            waiting: HashMap::new(),
            turns: VecDeque::new(),
            at_limit: HashSet::new(),
            running: HashMap::new(),
            len: 0,
        }
    }

    /// Actions waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no action waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, action: DueAction) {
        let queue = self.waiting.entry(action.tenant.clone()).or_default();
        if queue.is_empty() && !self.at_limit.contains(&action.tenant) {
            self.turns.push_back(action.tenant.clone());
        }
        queue.push_back(action);
        self.len += 1;
    }

    /// The next action to send, from the next tenant in turn that has a free slot; the slot is
    /// taken until [`FairQueue::finished`].
    pub fn pop(&mut self) -> Option<DueAction> {
        while let Some(tenant) = self.turns.pop_front() {
            let running = self.running.get(&tenant).copied().unwrap_or(0);
            if running >= self.per_tenant {
                self.at_limit.insert(tenant);
                continue;
            }
            let queue = self
                .waiting
                .get_mut(&tenant)
                .expect("a tenant in turn waits");
            let action = queue.pop_front().expect("a tenant in turn waits");
            if queue.is_empty() {
                self.waiting.remove(&tenant);
            } else {
                self.turns.push_back(tenant.clone());
            }
            *self.running.entry(tenant).or_default() += 1;
            self.len -= 1;
            return Some(action);
        }
        None
    }

    /// Takes every waiting action out of the queue (the slots running stay taken).
    pub fn take_all(&mut self) -> Vec<DueAction> {
        self.turns.clear();
        self.at_limit.clear();
        self.len = 0;
        self.waiting.drain().flat_map(|(_, queue)| queue).collect()
    }

    /// Gives back the slot of one of `tenant`'s actions.
    pub fn finished(&mut self, tenant: &str) {
        if let Some(running) = self.running.get_mut(tenant) {
            *running -= 1;
            if *running == 0 {
                self.running.remove(tenant);
            }
        }
        if self.at_limit.remove(tenant) {
            self.turns.push_back(tenant.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Request;
    use axum::http::Method;

    fn action(tenant: &str, id: &str) -> DueAction {
        DueAction {
            id: id.into(),
            event_id: "evt".into(),
            tenant: tenant.into(),
            plugin: "p".into(),
            request: Request::new(Method::POST, "https://a.test/".into(), vec![], vec![]).unwrap(),
            attempts: 0,
            lease_until: 0,
            trace_parent: None,
        }
    }

    fn ids(queue: &mut FairQueue, n: usize) -> Vec<String> {
        (0..n).filter_map(|_| queue.pop()).map(|a| a.id).collect()
    }

    #[test]
    fn tenants_take_turns() {
        let mut queue = FairQueue::new(10);
        for i in 0..3 {
            queue.push(action("busy", &format!("b{i}")));
        }
        queue.push(action("quiet", "q0"));
        assert_eq!(ids(&mut queue, 4), ["b0", "q0", "b1", "b2"]);
        assert!(queue.is_empty());
    }

    #[test]
    fn a_tenant_at_its_share_waits_while_others_go_ahead() {
        let mut queue = FairQueue::new(2);
        for i in 0..5 {
            queue.push(action("slow", &format!("s{i}")));
        }
        assert_eq!(ids(&mut queue, 3), ["s0", "s1"], "two slots, then nothing");
        queue.push(action("other", "o0"));
        assert_eq!(
            ids(&mut queue, 2),
            ["o0"],
            "the other tenant is not held up"
        );
        queue.finished("slow");
        assert_eq!(
            ids(&mut queue, 2),
            ["s2"],
            "a freed slot lets the next one go"
        );
        assert_eq!(queue.len(), 2);
    }

    #[test]
    fn take_all_empties_the_queue() {
        let mut queue = FairQueue::new(1);
        queue.push(action("acme", "1"));
        queue.push(action("acme", "2"));
        queue.push(action("globex", "3"));
        let running = queue.pop().unwrap();
        let mut left: Vec<String> = queue.take_all().into_iter().map(|a| a.id).collect();
        left.sort();
        let mut expected = vec!["1", "2", "3"];
        expected.retain(|id| *id != running.id);
        assert_eq!(left, expected);
        assert!(queue.is_empty());
        assert!(queue.pop().is_none());
    }
}
