//! Coalescing bursts of store changes: at most one fleet rebuild per window.
//!
//! The first change after a quiet period is published at once (low
//! latency); changes arriving within `window` of the last publication are
//! gathered and published together when the window ends. A burst of 10,000
//! node events therefore costs one rebuild per window, not 10,000.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Throttle {
    window: Duration,
    last: Option<Instant>,
    due: Option<Instant>,
}

impl Throttle {
    pub fn new(window: Duration) -> Throttle {
        Throttle {
            window,
            last: None,
            due: None,
        }
    }

    /// Records a change at `now`; returns when the rebuild is due.
    pub fn changed(&mut self, now: Instant) -> Instant {
        if let Some(due) = self.due {
            return due;
        }
        let due = match self.last {
            Some(last) if now < last + self.window => last + self.window,
            _ => now,
        };
        self.due = Some(due);
        due
    }

    /// When the pending rebuild is due (None: nothing pending).
    pub fn deadline(&self) -> Option<Instant> {
        self.due
    }

    /// Whether a rebuild is due at `now`; if so, it counts as done.
    pub fn fire(&mut self, now: Instant) -> bool {
        match self.due {
            Some(due) if due <= now => {
                self.due = None;
                self.last = Some(now);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_millis(150);

    #[test]
    fn first_change_is_due_at_once() {
        let t0 = Instant::now();
        let mut t = Throttle::new(W);
        assert_eq!(t.deadline(), None);
        assert_eq!(t.changed(t0), t0);
        assert!(t.fire(t0));
        assert!(!t.fire(t0), "nothing pending after firing");
    }

    #[test]
    fn a_burst_becomes_one_rebuild_per_window() {
        let t0 = Instant::now();
        let mut t = Throttle::new(W);
        t.changed(t0);
        assert!(t.fire(t0));
        let mut fired = 0;
        // 10,000 changes spread over 300ms, polled after each.
        for i in 0..10_000u64 {
            let now = t0 + Duration::from_micros(i * 30);
            t.changed(now);
            if t.fire(now) {
                fired += 1;
            }
        }
        assert!(fired <= 2, "fired {fired} times");
        // The trailing changes are still pending and fire once the window ends.
        let end = t0 + Duration::from_millis(300);
        if let Some(due) = t.deadline() {
            assert!(due <= end + W);
            assert!(t.fire(due));
        }
        assert_eq!(t.deadline(), None);
    }

    #[test]
    fn changes_within_the_window_wait_for_its_end() {
        let t0 = Instant::now();
        let mut t = Throttle::new(W);
        t.changed(t0);
        assert!(t.fire(t0));
        let soon = t0 + Duration::from_millis(10);
        assert_eq!(t.changed(soon), t0 + W);
        assert!(!t.fire(soon));
        assert_eq!(t.changed(soon + Duration::from_millis(5)), t0 + W);
        assert!(t.fire(t0 + W));
        // After a quiet period the next change is immediate again.
        let later = t0 + Duration::from_secs(2);
        assert_eq!(t.changed(later), later);
    }
}
