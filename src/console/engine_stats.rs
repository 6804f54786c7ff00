//! The engine's figures as the Engine view shows them: rates between two
//! readings of [`Telemetry::figures`](crate::telemetry::Telemetry::figures)
//! (the in-process engine) or of a remote engine's `/metrics`
//! ([`crate::telemetry::scrape`]), the queue and its lag, whether it leads.
//!
//! Values are rounded to what the view prints (a tenth of a reconcile per
//! second, whole seconds of lag), so two readings of an idle engine are
//! equal and the console does not rebuild its fleet for nothing.

use std::time::Duration;

use crate::telemetry::{Controller, EngineFigures};

/// What the Engine view has to show about an engine's figures.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineReading {
    Figures(EngineStats),
    /// The remote engine's metrics could not be read; nothing is shown as
    /// current until they can.
    Unreachable {
        url: String,
        error: String,
    },
}

/// Which engine the figures are of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    InProcess,
    /// Scraped from this URL (`--engine-metrics`).
    Remote(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct EngineStats {
    pub origin: Origin,
    pub leading: bool,
    pub writes: u64,
    /// Tenths of a write per second.
    pub writes_rate: Rate,
    pub controllers: Vec<ControllerStats>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ControllerStats {
    pub controller: Controller,
    pub rate: Rate,
    pub reconciles: u64,
    pub errors: u64,
    pub queued: usize,
    pub in_flight: usize,
    /// How long the longest-waiting queued or in-flight object has waited, whole seconds.
    pub lag: Option<Duration>,
    pub owned: usize,
    pub stalled: bool,
}

/// Events per second, in tenths (so it compares exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rate(pub u64);

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}/s", self.0 / 10, self.0 % 10)
    }
}

fn rate(before: u64, now: u64, elapsed: Duration) -> Rate {
    let seconds = elapsed.as_secs_f64();
    if seconds <= 0.0 {
        return Rate::default();
    }
    let per_second = now.saturating_sub(before) as f64 / seconds;
    Rate((per_second * 10.0).round() as u64)
}

impl EngineStats {
    /// The figures `now`, with rates since `before` (none on the first reading).
    pub fn between(
        origin: Origin,
        before: Option<&EngineFigures>,
        now: &EngineFigures,
    ) -> EngineStats {
        let elapsed = before.map_or(Duration::ZERO, |b| now.at.saturating_duration_since(b.at));
        let earlier = |c: Controller| {
            before
                .and_then(|b| b.controllers.iter().find(|(x, _)| *x == c))
                .map(|(_, f)| f.reconciles)
        };
        let controllers = now
            .controllers
            .iter()
            .map(|(controller, f)| ControllerStats {
                controller: *controller,
                rate: earlier(*controller)
                    .map_or(Rate::default(), |b| rate(b, f.reconciles, elapsed)),
                reconciles: f.reconciles,
                errors: f.errors,
                queued: f.queued,
                in_flight: f.in_flight,
                lag: f.oldest.map(|d| Duration::from_secs(d.as_secs())),
                owned: f.owned,
                stalled: f.stalled,
            })
            .collect();
        EngineStats {
            origin,
            leading: now.leading,
            writes: now.writes,
            writes_rate: before.map_or(Rate::default(), |b| rate(b.writes, now.writes, elapsed)),
            controllers,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::telemetry::ControllerFigures;

    fn figures(
        at: Instant,
        reconciles: u64,
        writes: u64,
        oldest: Option<Duration>,
    ) -> EngineFigures {
        EngineFigures {
            at,
            leading: true,
            writes,
            controllers: vec![(
                Controller::NodeGroup,
                ControllerFigures {
                    reconciles,
                    errors: 1,
                    queued: 2,
                    oldest,
                    ..ControllerFigures::default()
                },
            )],
        }
    }

    #[test]
    fn rates_are_counted_between_two_readings() {
        let t0 = Instant::now();
        let before = figures(t0, 10, 4, None);
        let now = figures(
            t0 + Duration::from_secs(2),
            15,
            5,
            Some(Duration::from_millis(3_700)),
        );
        let stats = EngineStats::between(Origin::InProcess, Some(&before), &now);
        let ng = &stats.controllers[0];
        assert_eq!(ng.rate.to_string(), "2.5/s");
        assert_eq!(stats.writes_rate.to_string(), "0.5/s");
        assert_eq!(ng.lag, Some(Duration::from_secs(3)));
        assert_eq!((ng.reconciles, ng.errors, ng.queued), (15, 1, 2));
    }

    #[test]
    fn the_first_reading_has_no_rate_and_idle_readings_are_equal() {
        let t0 = Instant::now();
        let first = figures(t0, 10, 4, None);
        assert_eq!(
            EngineStats::between(Origin::InProcess, None, &first).controllers[0].rate,
            Rate(0)
        );
        let later = figures(t0 + Duration::from_secs(1), 10, 4, None);
        let again = figures(t0 + Duration::from_secs(2), 10, 4, None);
        assert_eq!(
            EngineStats::between(Origin::InProcess, Some(&first), &later),
            EngineStats::between(Origin::InProcess, Some(&later), &again)
        );
    }
}
