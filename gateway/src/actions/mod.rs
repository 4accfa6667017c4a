//! Actions: sending what plugins asked for.
//!
//! The records themselves ([`NewAction`](crate::records::NewAction), validated when built, so
//! nothing invalid is ever stored) live in [`records`](crate::records); [`worker`] executes
//! stored HTTP actions with retries, [`retry`] decides what happens after each attempt,
//! [`policy`] and [`secrets`] decide where a request may go and with what, and
//! [`continuations`] hands responses back to the plugins that asked for them.

pub mod continuations;
pub mod fair_queue;
pub mod policy;
pub mod retry;
pub mod secrets;
pub mod worker;
