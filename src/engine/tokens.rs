//! Idempotency tokens (TransactWriteItems' ClientRequestToken). A token that completed
//! successfully is remembered for 10 minutes after completion, with a fingerprint of
//! the request that used it: the same request again is answered from memory without
//! writing anything, a different request is refused. A token whose request is still
//! running is "in progress"; a token whose request failed is forgotten, so a retry
//! runs for real.
//!
//! Time is passed in by the caller (from the engine's `Clock`), so expiry is testable
//! without sleeping. Tokens live in memory: a restart forgets them.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// How long a completed token is remembered, as on AWS.
pub const TOKEN_TTL_MS: i64 = 10 * 60 * 1000;

enum State<T> {
    Running,
    Done { at_ms: i64, value: T },
}

struct Entry<T> {
    fingerprint: u64,
    state: State<T>,
}

struct Inner<T> {
    entries: HashMap<String, Entry<T>>,
    /// Completion times in order, so expiry pops from the front instead of scanning.
    expiry: VecDeque<(i64, String)>,
}

/// The remembered tokens. `T` is what a replay needs to answer.
pub struct TokenCache<T> {
    inner: Mutex<Inner<T>>,
}

impl<T> Default for TokenCache<T> {
    fn default() -> Self {
        TokenCache { inner: Mutex::new(Inner { entries: HashMap::new(), expiry: VecDeque::new() }) }
    }
}

/// What a request with a token should do.
pub enum Claim<T> {
    /// Run it; complete the guard on success (dropping it forgets the token). The guard
    /// owns its cache, so it can travel with a write that must finish even if the
    /// client goes away.
    Fresh(TokenGuard<T>),
    /// The same request already succeeded: answer from this, write nothing.
    Replay(T),
    /// The token was used by a different request.
    Mismatch,
    /// The same request is running right now.
    InProgress,
}

/// A claimed token whose request is running.
pub struct TokenGuard<T> {
    cache: Arc<TokenCache<T>>,
    token: String,
    done: bool,
}

impl<T: Clone> TokenCache<T> {
    /// Looks `token` up for a request with `fingerprint` at `now_ms`.
    pub fn claim(self: &Arc<Self>, token: &str, fingerprint: u64, now_ms: i64) -> Claim<T> {
        let mut inner = self.lock();
        inner.expire(now_ms);
        if let Some(entry) = inner.entries.get(token) {
            if entry.fingerprint != fingerprint {
                return Claim::Mismatch;
            }
            return match &entry.state {
                State::Running => Claim::InProgress,
                State::Done { value, .. } => Claim::Replay(value.clone()),
            };
        }
        inner.entries.insert(token.to_string(), Entry { fingerprint, state: State::Running });
        Claim::Fresh(TokenGuard { cache: self.clone(), token: token.to_string(), done: false })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> Inner<T> {
    fn expire(&mut self, now_ms: i64) {
        while let Some((at_ms, _)) = self.expiry.front()
            && at_ms + TOKEN_TTL_MS <= now_ms
        {
            let Some((at_ms, token)) = self.expiry.pop_front() else { break };
            // The token may have been forgotten and reused since; only drop this use.
            if matches!(self.entries.get(&token), Some(Entry { state: State::Done { at_ms: t, .. }, .. }) if *t == at_ms)
            {
                self.entries.remove(&token);
            }
        }
    }
}

impl<T> TokenGuard<T> {
    /// Records success at `now_ms`; the 10 minutes start now.
    pub fn complete(mut self, value: T, now_ms: i64) {
        let mut inner = self.cache.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = inner.entries.get_mut(&self.token) {
            entry.state = State::Done { at_ms: now_ms, value };
        }
        inner.expiry.push_back((now_ms, self.token.clone()));
        self.done = true;
    }
}

impl<T> Drop for TokenGuard<T> {
    fn drop(&mut self) {
        if !self.done {
            let mut inner = self.cache.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.entries.remove(&self.token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(claim: Claim<u32>) -> TokenGuard<u32> {
        match claim {
            Claim::Fresh(guard) => guard,
            _ => panic!("expected a fresh claim"),
        }
    }

    #[test]
    fn replays_the_same_request_and_refuses_another() {
        let cache = Arc::new(TokenCache::default());
        fresh(cache.claim("t", 1, 0)).complete(7, 100);
        assert!(matches!(cache.claim("t", 1, 200), Claim::Replay(7)));
        assert!(matches!(cache.claim("t", 2, 200), Claim::Mismatch));
        // Another token is independent.
        assert!(matches!(cache.claim("u", 2, 200), Claim::Fresh(_)));
    }

    #[test]
    fn running_requests_are_in_progress_and_failures_are_forgotten() {
        let cache = Arc::new(TokenCache::<u32>::default());
        let guard = fresh(cache.claim("t", 1, 0));
        assert!(matches!(cache.claim("t", 1, 1), Claim::InProgress));
        assert!(matches!(cache.claim("t", 9, 1), Claim::Mismatch));
        drop(guard);
        assert!(matches!(cache.claim("t", 9, 2), Claim::Fresh(_)));
    }

    #[test]
    fn tokens_expire_ten_minutes_after_completion() {
        let cache = Arc::new(TokenCache::default());
        let guard = fresh(cache.claim("t", 1, 0));
        // The window starts when the request completes, not when it started.
        guard.complete(3, 5_000);
        assert!(matches!(cache.claim("t", 2, 5_000 + TOKEN_TTL_MS - 1), Claim::Mismatch));
        let again = fresh(cache.claim("t", 2, 5_000 + TOKEN_TTL_MS));
        again.complete(4, 5_000 + TOKEN_TTL_MS);
        assert!(matches!(cache.claim("t", 2, 5_000 + TOKEN_TTL_MS + 1), Claim::Replay(4)));
    }
}
