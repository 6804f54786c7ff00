//! The progress watchdog of one controller: what it owes, since when, and
//! when it last finished a reconcile.
//!
//! A controller is *stalled* when it owes work (objects queued or in
//! flight) and neither finished a reconcile nor started owing within the
//! progress deadline. Both halves matter: an idle controller that last
//! reconciled an hour ago and is triggered now is not stalled, and a busy
//! one with a long queue that keeps finishing reconciles is not either. A
//! reconcile that fails still counts as progress: failures are retried
//! with backoff and show in the error metrics; the watchdog is for a
//! controller that stopped moving (a hung request, a wedged applier).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// `namespace/name`, or `name` for cluster-scoped objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ObjectKey(String);

impl ObjectKey {
    pub(super) fn new(namespace: Option<&str>, name: &str) -> ObjectKey {
        match namespace {
            Some(ns) => ObjectKey(format!("{ns}/{name}")),
            None => ObjectKey(name.to_owned()),
        }
    }
}

type Check = Box<dyn Fn() -> bool + Send + Sync>;
type Count = Box<dyn Fn() -> usize + Send + Sync>;

pub(super) struct ControllerWatch {
    pub queued: HashMap<ObjectKey, Instant>,
    pub in_flight: HashMap<ObjectKey, Instant>,
    last_progress: Option<Instant>,
    started: Instant,
    pub caches: Vec<(&'static str, Check)>,
    pub owned: Option<Count>,
}

impl Default for ControllerWatch {
    fn default() -> Self {
        ControllerWatch::started(Instant::now())
    }
}

/// One controller's figures at an instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ControllerFigures {
    /// Reconciles finished since the engine started.
    pub reconciles: u64,
    /// Of those, failed.
    pub errors: u64,
    pub queued: usize,
    pub in_flight: usize,
    /// How long the longest-waiting queued or in-flight object has waited.
    pub oldest: Option<Duration>,
    /// Since the last finished reconcile (None: none yet).
    pub since_progress: Option<Duration>,
    pub owned: usize,
    pub stalled: bool,
}

/// What `/readyz` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    NotReady(Vec<String>),
}

impl Readiness {
    pub(super) fn from_problems(problems: Vec<String>) -> Readiness {
        if problems.is_empty() {
            Readiness::Ready
        } else {
            Readiness::NotReady(problems)
        }
    }
}

impl ControllerWatch {
    pub(super) fn started(at: Instant) -> ControllerWatch {
        ControllerWatch {
            queued: HashMap::new(),
            in_flight: HashMap::new(),
            last_progress: None,
            started: at,
            caches: Vec::new(),
            owned: None,
        }
    }

    /// Queued again while queued keeps the first time: the applier's
    /// scheduler also keeps one entry, due at the earliest.
    pub(super) fn queue(&mut self, key: ObjectKey, at: Instant) {
        self.queued.entry(key).or_insert(at);
    }

    /// The wait of a queued object carries over into its flight.
    pub(super) fn start(&mut self, key: ObjectKey, at: Instant) {
        let since = self.queued.remove(&key).unwrap_or(at);
        self.in_flight.insert(key, since);
    }

    pub(super) fn finish(&mut self, key: &ObjectKey, at: Instant) {
        self.in_flight.remove(key);
        self.last_progress = Some(at);
    }

    fn oldest(&self) -> Option<Instant> {
        self.queued
            .values()
            .chain(self.in_flight.values())
            .min()
            .copied()
    }

    fn stalled(&self, now: Instant, deadline: Duration) -> Option<Duration> {
        let owed_since = self.oldest()?;
        let moved = self.last_progress.unwrap_or(self.started).max(owed_since);
        let idle = now.saturating_duration_since(moved);
        (idle > deadline).then_some(idle)
    }

    /// What the watchdog says of a controller stalled for longer than `after`.
    pub(super) fn stall(&self, now: Instant, after: Duration) -> Option<String> {
        let idle = self.stalled(now, after)?;
        Some(format!(
            "{} queued and {} in flight, no reconcile finished for {}s",
            self.queued.len(),
            self.in_flight.len(),
            idle.as_secs()
        ))
    }

    pub(super) fn figures(&self, now: Instant, deadline: Duration) -> ControllerFigures {
        ControllerFigures {
            reconciles: 0,
            errors: 0,
            queued: self.queued.len(),
            in_flight: self.in_flight.len(),
            oldest: self.oldest().map(|t| now.saturating_duration_since(t)),
            since_progress: self.last_progress.map(|t| now.saturating_duration_since(t)),
            owned: self.owned.as_ref().map_or(0, |count| count()),
            stalled: self.stalled(now, deadline).is_some(),
        }
    }

    pub(super) fn problems(&self, now: Instant, deadline: Duration) -> Vec<String> {
        let mut problems: Vec<String> = self
            .caches
            .iter()
            .filter(|(_, synced)| !synced())
            .map(|(resource, _)| format!("the {resource} cache has not listed yet"))
            .collect();
        if let Some(idle) = self.stalled(now, deadline) {
            problems.push(format!(
                "stalled: {} queued and {} in flight, no reconcile finished for {}s (progress deadline {}s)",
                self.queued.len(),
                self.in_flight.len(),
                idle.as_secs(),
                deadline.as_secs()
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEADLINE: Duration = Duration::from_secs(60);

    fn key(name: &str) -> ObjectKey {
        ObjectKey::new(Some("ns"), name)
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn an_idle_controller_is_never_stalled() {
        let t0 = Instant::now();
        let w = ControllerWatch::started(t0);
        assert!(!w.figures(t0 + secs(3600), DEADLINE).stalled);
        assert!(w.problems(t0 + secs(3600), DEADLINE).is_empty());
    }

    #[test]
    fn work_queued_after_a_long_quiet_spell_gets_a_full_deadline() {
        let t0 = Instant::now();
        let mut w = ControllerWatch::started(t0);
        w.start(key("a"), t0);
        w.finish(&key("a"), t0 + secs(1));
        w.queue(key("b"), t0 + secs(3600));
        assert!(!w.figures(t0 + secs(3630), DEADLINE).stalled);
        assert!(w.figures(t0 + secs(3661), DEADLINE).stalled);
    }

    #[test]
    fn a_hung_reconcile_stalls_the_controller_until_it_finishes() {
        let t0 = Instant::now();
        let mut w = ControllerWatch::started(t0);
        w.queue(key("a"), t0);
        w.start(key("a"), t0 + secs(1));
        let later = t0 + secs(62);
        let figures = w.figures(later, DEADLINE);
        assert!(figures.stalled);
        assert_eq!(figures.in_flight, 1);
        assert_eq!(
            figures.oldest,
            Some(secs(62)),
            "the wait counts from the trigger"
        );
        let problems = w.problems(later, DEADLINE);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("1 in flight"), "{problems:?}");
        w.finish(&key("a"), later);
        assert!(!w.figures(later + secs(1), DEADLINE).stalled);
    }

    #[test]
    fn a_busy_controller_that_keeps_finishing_is_not_stalled() {
        let t0 = Instant::now();
        let mut w = ControllerWatch::started(t0);
        w.queue(key("slow"), t0);
        for i in 0..10 {
            let name = format!("o{i}");
            w.start(key(&name), t0 + secs(i * 30));
            w.finish(&key(&name), t0 + secs(i * 30 + 1));
        }
        let figures = w.figures(t0 + secs(300), DEADLINE);
        assert_eq!(figures.queued, 1);
        assert!(!figures.stalled);
        assert_eq!(figures.oldest, Some(secs(300)));
    }

    #[test]
    fn a_requeued_object_keeps_its_first_time() {
        let t0 = Instant::now();
        let mut w = ControllerWatch::started(t0);
        w.queue(key("a"), t0);
        w.queue(key("a"), t0 + secs(10));
        assert_eq!(w.figures(t0 + secs(20), DEADLINE).oldest, Some(secs(20)));
        assert_eq!(w.figures(t0 + secs(20), DEADLINE).queued, 1);
    }

    #[test]
    fn unsynced_caches_are_problems() {
        let mut w = ControllerWatch::started(Instant::now());
        w.caches.push(("nodes", Box::new(|| false)));
        w.caches.push(("nodegroups", Box::new(|| true)));
        assert_eq!(
            w.problems(Instant::now(), DEADLINE),
            ["the nodes cache has not listed yet"]
        );
    }
}
