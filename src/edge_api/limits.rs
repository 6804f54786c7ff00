//! What one token may ask of the edge API: requests per second (a token
//! bucket), watches open at once, and how long a client may take to send
//! its request. Each node has its own bucket and its own watch count, so a
//! node in a reconnect loop (or compromised) is slowed down alone and the
//! others keep being served; beyond a limit it gets `429 TooManyRequests`
//! with `Retry-After`, which client-go and kube-rs wait out and retry.
//!
//! A bucket of a few lines rather than a crate (`governor`): one bucket per
//! token, refilled on use, is all that is needed, and adds no dependency.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::tokens::TokenMap;

/// The edge API's limits per token, and its connection timeouts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EdgeLimits {
    /// Sustained requests per second per token (a watch counts once, when
    /// it starts).
    pub requests_per_second: f64,
    /// Requests a token may make at once after being quiet.
    pub burst: u32,
    /// Watches (filtered and passed through) open at once per token.
    pub watches_per_token: usize,
    /// Time for a TLS handshake, and for a request's headers once a
    /// connection waits for them; then the connection is closed.
    pub header_timeout: Duration,
}

impl EdgeLimits {
    /// Four times what kube-proxy's own client allows itself (5 QPS, burst
    /// 10), and watches for kube-proxy (four at a time, one more while it
    /// re-establishes one) with room for a kubectl. The header timeout is
    /// kube-apiserver's.
    pub const DEFAULT: EdgeLimits = EdgeLimits {
        requests_per_second: 20.0,
        burst: 40,
        watches_per_token: 16,
        header_timeout: Duration::from_secs(32),
    };
}

impl Default for EdgeLimits {
    fn default() -> Self {
        EdgeLimits::DEFAULT
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug, Default)]
struct PerToken {
    buckets: HashMap<String, Bucket>,
    watches: HashMap<String, usize>,
    /// The token map the buckets were last pruned against (its address).
    pruned_for: usize,
}

/// Buckets and watch counts of every token that made a request.
#[derive(Debug, Clone)]
pub(crate) struct Limiter {
    limits: EdgeLimits,
    state: Arc<Mutex<PerToken>>,
}

/// An open watch of one token; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct WatchPermit {
    token: String,
    state: Arc<Mutex<PerToken>>,
}

impl Limiter {
    pub(crate) fn new(limits: EdgeLimits) -> Limiter {
        Limiter {
            limits,
            state: Arc::default(),
        }
    }

    /// Takes one request from `token`'s bucket, or says how long until one
    /// is there. `tokens` is the map `token` was found in: once it is a new
    /// one (the file was reloaded), buckets of tokens no longer in it go, so
    /// rotating tokens does not grow the table forever.
    pub(crate) fn request(&self, token: &str, tokens: &Arc<TokenMap>) -> Result<(), Duration> {
        self.prune(tokens);
        self.request_at(token, Instant::now())
    }

    fn prune(&self, tokens: &Arc<TokenMap>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let current = Arc::as_ptr(tokens) as usize;
        if state.pruned_for != current {
            state.pruned_for = current;
            state
                .buckets
                .retain(|token, _| tokens.node_for(token).is_some());
        }
    }

    fn request_at(&self, token: &str, now: Instant) -> Result<(), Duration> {
        let rate = self.limits.requests_per_second.max(f64::MIN_POSITIVE);
        let burst = f64::from(self.limits.burst.max(1));
        let Ok(mut state) = self.state.lock() else {
            return Ok(()); // a panicked holder must not take the API down with it
        };
        let bucket = state.buckets.entry(token.to_owned()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                ((1.0 - bucket.tokens) / rate).min(3600.0),
            ))
        }
    }

    /// A place for one more watch of `token`, if it has one left.
    pub(crate) fn watch(&self, token: &str) -> Option<WatchPermit> {
        let mut state = self.state.lock().ok()?;
        let open = state.watches.entry(token.to_owned()).or_default();
        if *open >= self.limits.watches_per_token {
            return None;
        }
        *open += 1;
        Some(WatchPermit {
            token: token.to_owned(),
            state: self.state.clone(),
        })
    }

    pub(crate) fn limits(&self) -> &EdgeLimits {
        &self.limits
    }
}

impl Drop for WatchPermit {
    fn drop(&mut self) {
        if let Ok(mut state) = self.state.lock()
            && let Some(open) = state.watches.get_mut(&self.token)
        {
            *open = open.saturating_sub(1);
            if *open == 0 {
                state.watches.remove(&self.token);
            }
        }
    }
}

/// `Retry-After` is whole seconds; never tell a client 0.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(requests_per_second: f64, burst: u32, watches: usize) -> Limiter {
        Limiter::new(EdgeLimits {
            requests_per_second,
            burst,
            watches_per_token: watches,
            ..EdgeLimits::DEFAULT
        })
    }

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limiter = limiter(2.0, 3, 1);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.request_at("a", start), Ok(()));
        }
        let wait = limiter.request_at("a", start).expect_err("bucket empty");
        assert_eq!(wait, Duration::from_millis(500));
        assert_eq!(retry_after_secs(wait), 1);
        // half a second later, one request's worth has come back
        let later = start + Duration::from_millis(500);
        assert_eq!(limiter.request_at("a", later), Ok(()));
        assert!(limiter.request_at("a", later).is_err());
        // never more than the burst, however long it was quiet
        let much_later = later + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(limiter.request_at("a", much_later), Ok(()));
        }
        assert!(limiter.request_at("a", much_later).is_err());
    }

    #[test]
    fn each_token_has_its_own_bucket() {
        let limiter = limiter(0.001, 1, 1);
        let now = Instant::now();
        assert_eq!(limiter.request_at("noisy", now), Ok(()));
        assert!(limiter.request_at("noisy", now).is_err());
        assert_eq!(limiter.request_at("quiet", now), Ok(()));
        let wait = limiter.request_at("noisy", now).expect_err("still empty");
        assert_eq!(retry_after_secs(wait), 1000);
    }

    #[test]
    fn watches_are_capped_per_token_and_freed_on_drop() {
        let limiter = limiter(1.0, 1, 2);
        let a = limiter.watch("a").expect("first");
        let _b = limiter.watch("a").expect("second");
        assert!(limiter.watch("a").is_none());
        assert!(limiter.watch("other").is_some());
        drop(a);
        assert!(limiter.watch("a").is_some());
    }

    #[test]
    fn buckets_of_tokens_gone_from_a_reloaded_map_are_dropped() {
        let limiter = limiter(0.001, 1, 1);
        let before = Arc::new(TokenMap::parse("old n1\nkept n2\n").expect("valid"));
        assert_eq!(limiter.request("old", &before), Ok(()));
        assert_eq!(limiter.request("kept", &before), Ok(()));
        let after = Arc::new(TokenMap::parse("kept n2\nnew n1\n").expect("valid"));
        assert_eq!(limiter.request("new", &after), Ok(()));
        let state = limiter.state.lock().expect("lock");
        let mut tokens: Vec<&str> = state.buckets.keys().map(String::as_str).collect();
        tokens.sort();
        assert_eq!(tokens, ["kept", "new"]);
        drop(state);
        // a kept token keeps its (empty) bucket across the reload
        assert!(limiter.request("kept", &after).is_err());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(7)), 7);
    }
}
