//! Which EdgeApplications the engine has fallen behind on: `generation`
//! ahead of `status.observedGeneration` for longer than [`LAG_GRACE`].
//!
//! A stalled engine leaves the last status it wrote in place, and that
//! status can look healthy. The only evidence in the cluster is an
//! observedGeneration that stops moving, so the console times how long each
//! application has waited since the engine last observed anything of it,
//! and the views show those past the grace as lagging, never with a ✓.
//!
//! The clock is here, in the live layer; the fleet only carries the result,
//! so deriving views stays a pure function of the fleet.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::api::EdgeApplication;
use crate::console::model::AppLag;

/// How long an unobserved generation is normal: one reconcile, a status
/// write and the watch event back, with room for a busy engine.
pub const LAG_GRACE: Duration = Duration::from_secs(5);

/// `namespace/name` → the observedGeneration that stopped moving, and since when.
#[derive(Debug, Default)]
pub struct LagTracker {
    waiting: HashMap<(String, String), (Option<i64>, SystemTime)>,
}

impl LagTracker {
    /// The applications lagging at `now`, sorted, and when the next one
    /// still within its grace would cross it (for a rebuild then).
    pub fn observe(
        &mut self,
        apps: &[EdgeApplication],
        now: SystemTime,
    ) -> (Vec<AppLag>, Option<SystemTime>) {
        let mut still = HashMap::new();
        let mut lagging = Vec::new();
        let mut next = None::<SystemTime>;
        for app in apps {
            let (Some(name), Some(generation)) = (&app.metadata.name, app.metadata.generation)
            else {
                continue;
            };
            let observed = app.status.as_ref().and_then(|s| s.observed_generation);
            if observed.is_some_and(|o| o >= generation) {
                continue;
            }
            let key = (
                app.metadata.namespace.clone().unwrap_or_default(),
                name.clone(),
            );
            // Progress (a new observedGeneration) restarts the wait; a new
            // generation alone does not: the engine is still behind.
            let since = match self.waiting.get(&key) {
                Some((seen, since)) if *seen == observed => *since,
                _ => now,
            };
            let crossing = since + LAG_GRACE;
            if crossing <= now {
                lagging.push(AppLag {
                    namespace: key.0.clone(),
                    name: key.1.clone(),
                    generation,
                    observed,
                    since,
                });
            } else {
                next = Some(next.map_or(crossing, |n| n.min(crossing)));
            }
            still.insert(key, (observed, since));
        }
        self.waiting = still;
        lagging.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        (lagging, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::EdgeApplicationStatus;

    fn app(generation: i64, observed: Option<i64>) -> EdgeApplication {
        let mut app = EdgeApplication::new("web", Default::default());
        app.metadata.namespace = Some("default".into());
        app.metadata.generation = Some(generation);
        app.status = observed.map(|o| EdgeApplicationStatus {
            observed_generation: Some(o),
            ..EdgeApplicationStatus::default()
        });
        app
    }

    #[test]
    fn an_unobserved_generation_lags_only_after_the_grace() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut lags = LagTracker::default();
        let (lagging, next) = lags.observe(&[app(5, Some(3))], t0);
        assert!(lagging.is_empty(), "within the grace: {lagging:?}");
        assert_eq!(next, Some(t0 + LAG_GRACE), "a rebuild is asked for then");

        let later = t0 + LAG_GRACE;
        let (lagging, next) = lags.observe(&[app(5, Some(3))], later);
        assert_eq!(next, None);
        let lag = &lagging[0];
        assert_eq!((lag.generation, lag.observed, lag.since), (5, Some(3), t0));

        // Another edit while stalled: still lagging since t0.
        let (lagging, _) = lags.observe(&[app(6, Some(3))], later + Duration::from_secs(1));
        assert_eq!(lagging[0].since, t0);
        assert_eq!(lagging[0].generation, 6);
    }

    #[test]
    fn progress_restarts_the_wait_and_catching_up_clears_it() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut lags = LagTracker::default();
        lags.observe(&[app(5, Some(3))], t0);
        let t1 = t0 + LAG_GRACE;
        let (lagging, next) = lags.observe(&[app(6, Some(5))], t1);
        assert!(lagging.is_empty(), "the engine moved: {lagging:?}");
        assert_eq!(next, Some(t1 + LAG_GRACE));
        let (lagging, next) = lags.observe(&[app(6, Some(6))], t1 + LAG_GRACE);
        assert!(lagging.is_empty());
        assert_eq!(next, None);
        // Never observed at all (no status yet) lags too, once past the grace.
        let (_, _) = lags.observe(&[app(1, None)], t1);
        let (lagging, _) = lags.observe(&[app(1, None)], t1 + LAG_GRACE);
        assert_eq!(lagging[0].observed, None);
    }
}
