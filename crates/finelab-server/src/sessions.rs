//! Signed-in people: sessions kept in memory (a restart signs everyone out), and the count of
//! failed sign-ins that locks a name or an address out for a while.

use finelab_store::{Role, User};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed sign-ins to one name within [`FAILURE_WINDOW`] before it is locked out.
pub(crate) const MAX_FAILURES_PER_NAME: usize = 5;
/// Failed sign-ins from one address within [`FAILURE_WINDOW`] before it is locked out.
pub(crate) const MAX_FAILURES_PER_ADDRESS: usize = 20;
/// How long failures count.
pub(crate) const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Who made a request.
#[derive(Debug, Clone)]
pub(crate) enum Identity {
    /// The person who started the server: they hold its token, and may do everything.
    Operator,
    /// Someone signed in with a name and password.
    User {
        /// Their name.
        name: String,
        /// Their role when they signed in (checked against the project on every request).
        role: Role,
        /// When their password was set when they signed in: a newer one ends the session.
        password_changed_at: i64,
    },
}

/// What a session cookie is worth.
pub(crate) enum Lookup {
    /// A live session.
    Live(Identity),
    /// A session that has ended (expired, or ended by the server).
    Ended,
    /// Not a session of this server (an earlier run's, or made up).
    Unknown,
}

struct Session {
    identity: Identity,
    expires: Instant,
}

/// The sessions and sign-in failures of one server.
pub(crate) struct Sessions {
    ttl: Duration,
    live: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Sessions {
    pub(crate) fn new(ttl: Duration) -> Sessions {
        Sessions { ttl, live: Mutex::new(HashMap::new()), failures: Mutex::new(HashMap::new()) }
    }

    /// How long a session lasts.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session for `user`; its id is 256 random bits in hex.
    pub(crate) fn start(&self, user: &User) -> Result<String, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let now = Instant::now();
        let mut live = self.live.lock().unwrap();
        // Sessions that ended long ago are forgotten (those that just ended still say so).
        live.retain(|_, s| s.expires + self.ttl > now);
        let identity =
            Identity::User { name: user.name.clone(), role: user.role, password_changed_at: user.password_changed_at };
        live.insert(id.clone(), Session { identity, expires: now + self.ttl });
        Ok(id)
    }

    /// The session `id`.
    pub(crate) fn lookup(&self, id: &str) -> Lookup {
        let live = self.live.lock().unwrap();
        match live.get(id) {
            Some(s) if s.expires > Instant::now() => Lookup::Live(s.identity.clone()),
            Some(_) => Lookup::Ended,
            None => Lookup::Unknown,
        }
    }

    /// Ends the session `id` (signing out, or a user the project no longer has as signed in).
    pub(crate) fn end(&self, id: &str) {
        if let Some(s) = self.live.lock().unwrap().get_mut(id) {
            s.expires = Instant::now();
        }
    }

    /// `Some(wait)` while one of `keys` (a name, an address) has too many recent failures.
    pub(crate) fn locked_out(&self, keys: &[(String, usize)]) -> Option<Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap();
        keys.iter()
            .filter_map(|(key, max)| {
                let times = failures.get_mut(key)?;
                while times.front().is_some_and(|t| now.duration_since(*t) > FAILURE_WINDOW) {
                    times.pop_front();
                }
                let oldest = *times.front()?;
                (times.len() >= *max).then(|| FAILURE_WINDOW.saturating_sub(now.duration_since(oldest)))
            })
            .max()
    }

    /// Counts a failed sign-in against each of `keys`.
    pub(crate) fn failed(&self, keys: &[(String, usize)]) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap();
        for (key, _) in keys {
            let times = failures.entry(key.clone()).or_default();
            times.push_back(now);
            while times.len() > 64 {
                times.pop_front();
            }
        }
    }
}

/// The keys a sign-in's failures count against: the name and the address it came from.
pub(crate) fn failure_keys(name: &str, peer: Option<std::net::IpAddr>) -> Vec<(String, usize)> {
    let mut keys = vec![(format!("name:{name}"), MAX_FAILURES_PER_NAME)];
    if let Some(ip) = peer {
        keys.push((format!("address:{ip}"), MAX_FAILURES_PER_ADDRESS));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> User {
        User { name: name.into(), role: Role::Annotator, created_at: 0, password_changed_at: 1 }
    }

    #[test]
    fn sessions_live_then_end() {
        let sessions = Sessions::new(Duration::from_millis(50));
        let id = sessions.start(&user("a")).unwrap();
        assert_eq!(id.len(), 64);
        assert!(matches!(sessions.lookup(&id), Lookup::Live(Identity::User { name, .. }) if name == "a"));
        assert!(matches!(sessions.lookup("nope"), Lookup::Unknown));
        std::thread::sleep(Duration::from_millis(60));
        assert!(matches!(sessions.lookup(&id), Lookup::Ended));
        let id = sessions.start(&user("b")).unwrap();
        sessions.end(&id);
        assert!(matches!(sessions.lookup(&id), Lookup::Ended));
    }

    #[test]
    fn failures_lock_a_name_out() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let keys = failure_keys("a", None);
        for _ in 0..MAX_FAILURES_PER_NAME - 1 {
            sessions.failed(&keys);
            assert!(sessions.locked_out(&keys).is_none());
        }
        sessions.failed(&keys);
        let wait = sessions.locked_out(&keys).unwrap();
        assert!(wait > FAILURE_WINDOW - Duration::from_secs(5) && wait <= FAILURE_WINDOW, "{wait:?}");
        assert!(sessions.locked_out(&failure_keys("b", None)).is_none(), "another name is not locked");
    }
}
