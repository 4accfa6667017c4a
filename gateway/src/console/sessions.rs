//! Console sessions: random ids kept in memory, each until it expires or its user logs out.
//!
//! A session id is 32 random bytes (hex), unrelated to the admin token; logging out revokes it
//! on the server, not only in the browser. Sessions live in the gateway's memory, so a restart
//! ends them all; at most [`MAX_SESSIONS`] are open at once (the one closest to expiry gives way).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sessions open at once.
pub const MAX_SESSIONS: usize = 1000;

/// The open sessions and how long a new one lasts.
pub struct Sessions {
    ttl: Duration,
    open: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    /// Sessions that last `ttl` from login.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            open: Mutex::default(),
        }
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Opens a session and returns its id.
    pub fn open(&self, now: Instant) -> String {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).expect("the operating system's random generator");
        let id = hex::encode(bytes);
        let mut open = self.lock();
        open.retain(|_, expires| *expires > now);
        if open.len() >= MAX_SESSIONS {
            let soonest = open
                .iter()
                .min_by_key(|(_, expires)| **expires)
                .map(|(id, _)| id.clone());
            if let Some(soonest) = soonest {
                open.remove(&soonest);
            }
        }
        open.insert(id.clone(), now + self.ttl);
        id
    }

    /// Whether `id` is an open, unexpired session.
    pub fn is_open(&self, id: &str, now: Instant) -> bool {
        let mut open = self.lock();
        match open.get(id) {
            Some(expires) if *expires > now => true,
            Some(_) => {
                open.remove(id);
                false
            }
            None => false,
        }
    }

    /// Ends session `id` (logout).
    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_open_until_it_expires_or_is_closed() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let now = Instant::now();
        let id = sessions.open(now);
        assert_eq!(id.len(), 64);
        assert!(sessions.is_open(&id, now + Duration::from_secs(59)));
        assert!(!sessions.is_open(&id, now + Duration::from_secs(60)));
        let other = sessions.open(now);
        assert_ne!(other, id);
        sessions.close(&other);
        assert!(!sessions.is_open(&other, now));
        assert!(!sessions.is_open("made-up", now));
    }

    #[test]
    fn the_number_of_sessions_is_bounded() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let now = Instant::now();
        let first = sessions.open(now);
        for i in 1..=MAX_SESSIONS {
            sessions.open(now + Duration::from_millis(i as u64));
        }
        assert!(!sessions.is_open(&first, now), "the oldest gave way");
        assert_eq!(sessions.lock().len(), MAX_SESSIONS);
    }
}
