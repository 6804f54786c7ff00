//! What one client may hold of the server: how long it may take to send a
//! request, and how many watches may be open at once.
//!
//! Without these, a client that opens connections and sends a byte now and
//! then (slowloris), or one that opens watches in a loop, holds a task, a
//! socket and buffers each until the process runs out. kube-apiserver has
//! the same guards: a 32 s `ReadHeaderTimeout`, a 3 MiB body limit
//! ([`super::server::MAX_BODY_BYTES`]) and in-flight limits answered with
//! 429 and `Retry-After`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Per-connection and per-server limits of the embedded API server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Time from the start of a request (or of an idle keep-alive
    /// connection) until its headers are complete; then the connection is
    /// closed, as there is no request to answer yet.
    pub header_timeout: Duration,
    /// Time for the whole body once the headers are in; then `408`.
    pub body_timeout: Duration,
    /// Watches open at once, all clients together; one more gets `429`.
    pub max_watches: usize,
}

impl HttpLimits {
    /// kube-apiserver's header timeout; a body gets twice that; the watch cap
    /// is far above what the console, the engine and kubectl open together
    /// (a few dozen) and well below what exhausts file descriptors.
    pub const DEFAULT: HttpLimits = HttpLimits {
        header_timeout: Duration::from_secs(32),
        body_timeout: Duration::from_secs(64),
        max_watches: 1000,
    };
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits::DEFAULT
    }
}

/// How long a client refused a watch is told to wait.
pub const WATCH_RETRY_AFTER_SECS: u64 = 1;

/// Counts open watches against [`HttpLimits::max_watches`].
#[derive(Debug, Clone)]
pub struct WatchSlots {
    open: Arc<AtomicUsize>,
    max: usize,
}

/// One open watch; its place is freed when the watch's stream is dropped.
#[derive(Debug)]
pub struct WatchSlot(Arc<AtomicUsize>);

impl WatchSlots {
    pub fn new(max: usize) -> WatchSlots {
        WatchSlots {
            open: Arc::default(),
            max,
        }
    }

    /// A place for one more watch, if there is one.
    pub fn acquire(&self) -> Option<WatchSlot> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            })
            .ok()
            .map(|_| WatchSlot(self.open.clone()))
    }
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_and_freed() {
        let slots = WatchSlots::new(2);
        let a = slots.acquire().expect("first");
        let _b = slots.acquire().expect("second");
        assert!(slots.acquire().is_none(), "the cap holds");
        drop(a);
        assert!(slots.acquire().is_some(), "a dropped watch frees its place");
    }

    #[test]
    fn a_zero_cap_refuses_every_watch() {
        assert!(WatchSlots::new(0).acquire().is_none());
    }
}
