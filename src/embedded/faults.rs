//! Fault injection: the embedded cluster misbehaving on purpose, the way
//! real API servers do under load, across restarts and behind flaky links.
//!
//! A [`FaultSpec`] names what to inject and how often; [`Faults`] holds the
//! active spec and decides, request by request, from one random generator
//! seeded by the spec. The same seed and the same sequence of requests give
//! the same faults, so a failure found by a soak replays. (Requests from
//! concurrent clients interleave as the scheduler lets them; the decisions
//! are a function of that order.)
//!
//! What the spec can ask for (`,`-separated, each at most once):
//!
//! | item               | effect                                                                |
//! |--------------------|-----------------------------------------------------------------------|
//! | `seed=N`           | the generator's seed (default 0)                                      |
//! | `drop-watch=P[:D]` | a watch is cut (connection aborted) with probability P, at a random moment within D (default 10s) |
//! | `409=P`            | a write is answered 409 Conflict with probability P                   |
//! | `429=P`            | a request is answered 429 TooManyRequests with `Retry-After: 1`       |
//! | `500=P`, `503=P`   | a request is answered 500 InternalError / 503 ServiceUnavailable      |
//! | `delay=P:D`        | a request is held for a random time up to D before it is served       |
//! | `410=P`            | a watch that resumes from a resourceVersion is answered 410 Expired   |
//! | `restart=D`        | the server restarts (keeping its data directory) every 0.5–1.5 × D    |
//!
//! P is a fraction (`0.05`) or a percentage (`5%`); D a duration (`200ms`,
//! `10s`, `1m`). The answers are proper Kubernetes `Status` objects, so
//! clients take the code paths they take on a real server. Only the
//! Kubernetes API (`/api`, `/apis`) is affected; the control endpoints
//! under `/edgedeck/` always answer.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// How long a dropped watch may live at most when the spec does not say.
const DEFAULT_DROP_WITHIN: Duration = Duration::from_secs(10);

/// What to inject; see the module doc for the syntax.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    pub seed: u64,
    /// Probability that a watch is cut, and the longest it lives then.
    pub drop_watch: Option<(f64, Duration)>,
    pub conflict: f64,
    pub throttle: f64,
    pub server_error: f64,
    pub unavailable: f64,
    /// Probability that a request is held, and the longest hold.
    pub delay: Option<(f64, Duration)>,
    pub gone: f64,
    /// Mean time between restarts.
    pub restart_every: Option<Duration>,
}

/// A spec that does not parse, with what is wrong in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault spec: {0}")]
pub struct SpecError(String);

fn err<T>(message: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError(message.into()))
}

fn probability(key: &str, text: &str) -> Result<f64, SpecError> {
    let (number, scale) = match text.strip_suffix('%') {
        Some(percent) => (percent, 100.0),
        None => (text, 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&(p / scale)) => Ok(p / scale),
        Ok(_) => err(format!(
            "{key}={text}: a probability is between 0 and 1 (or 0% and 100%)"
        )),
        Err(_) => err(format!(
            "{key}={text}: expected a probability like 0.05 or 5%"
        )),
    }
}

fn duration(key: &str, text: &str) -> Result<Duration, SpecError> {
    let parsed: jiff::SignedDuration = text.trim().parse().or_else(|_| {
        err(format!(
            "{key}: {text:?} is not a duration like 200ms, 10s or 1m"
        ))
    })?;
    match Duration::try_from(parsed) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => err(format!("{key}: {text:?} must be longer than zero")),
    }
}

impl FromStr for FaultSpec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut spec = FaultSpec::default();
        let mut seen = Vec::new();
        if text.trim().is_empty() {
            return err("empty; name at least one fault, e.g. 503=0.05");
        }
        for item in text.split(',').map(str::trim) {
            let Some((key, value)) = item.split_once('=') else {
                return err(format!("{item:?}: expected KEY=VALUE, e.g. 429=0.1"));
            };
            let (key, value) = (key.trim(), value.trim());
            if seen.contains(&key) {
                return err(format!("{key} is given twice"));
            }
            seen.push(key);
            match key {
                "seed" => {
                    spec.seed = value
                        .parse()
                        .or_else(|_| err(format!("seed={value}: expected a whole number")))?
                }
                "drop-watch" => {
                    let (p, within) = match value.split_once(':') {
                        Some((p, d)) => (p, duration(key, d)?),
                        None => (value, DEFAULT_DROP_WITHIN),
                    };
                    spec.drop_watch = Some((probability(key, p)?, within));
                }
                "409" => spec.conflict = probability(key, value)?,
                "429" => spec.throttle = probability(key, value)?,
                "500" => spec.server_error = probability(key, value)?,
                "503" => spec.unavailable = probability(key, value)?,
                "410" => spec.gone = probability(key, value)?,
                "delay" => {
                    let Some((p, d)) = value.split_once(':') else {
                        return err(format!(
                            "delay={value}: expected PROBABILITY:DURATION, e.g. delay=0.1:200ms"
                        ));
                    };
                    spec.delay = Some((probability(key, p)?, duration(key, d)?));
                }
                "restart" => spec.restart_every = Some(duration(key, value)?),
                other => {
                    return err(format!(
                        "unknown fault {other:?}; known: seed, drop-watch, 409, 429, 500, 503, delay, 410, restart"
                    ));
                }
            }
        }
        let answers = spec.throttle + spec.server_error + spec.unavailable;
        if answers > 1.0 {
            return err(format!(
                "429, 500 and 503 together answer more than every request ({answers})"
            ));
        }
        Ok(spec)
    }
}

fn show(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = vec![format!("seed={}", self.seed)];
        if let Some((p, d)) = self.drop_watch {
            items.push(format!("drop-watch={p}:{}", show(d)));
        }
        for (key, p) in [
            ("409", self.conflict),
            ("429", self.throttle),
            ("500", self.server_error),
            ("503", self.unavailable),
            ("410", self.gone),
        ] {
            if p > 0.0 {
                items.push(format!("{key}={p}"));
            }
        }
        if let Some((p, d)) = self.delay {
            items.push(format!("delay={p}:{}", show(d)));
        }
        if let Some(d) = self.restart_every {
            items.push(format!("restart={}", show(d)));
        }
        f.write_str(&items.join(","))
    }
}

/// One kind of injected fault; also the label it is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    DropWatch,
    Conflict,
    Throttle,
    ServerError,
    Unavailable,
    Delay,
    Gone,
    Restart,
}

impl FaultKind {
    pub const ALL: [FaultKind; 8] = [
        FaultKind::DropWatch,
        FaultKind::Conflict,
        FaultKind::Throttle,
        FaultKind::ServerError,
        FaultKind::Unavailable,
        FaultKind::Delay,
        FaultKind::Gone,
        FaultKind::Restart,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::DropWatch => "drop-watch",
            FaultKind::Conflict => "409",
            FaultKind::Throttle => "429",
            FaultKind::ServerError => "500",
            FaultKind::Unavailable => "503",
            FaultKind::Delay => "delay",
            FaultKind::Gone => "410",
            FaultKind::Restart => "restart",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// An error answer the faults chose; rendered as a Kubernetes `Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injected(pub FaultKind);

impl Injected {
    pub fn code(self) -> u16 {
        match self.0 {
            FaultKind::Conflict => 409,
            FaultKind::Throttle => 429,
            FaultKind::Unavailable => 503,
            FaultKind::Gone => 410,
            _ => 500,
        }
    }

    pub fn reason(self) -> &'static str {
        match self.0 {
            FaultKind::Conflict => "Conflict",
            FaultKind::Throttle => "TooManyRequests",
            FaultKind::Unavailable => "ServiceUnavailable",
            FaultKind::Gone => "Expired",
            _ => "InternalError",
        }
    }

    pub fn message(self) -> &'static str {
        match self.0 {
            FaultKind::Conflict => {
                "injected fault: the object has been modified; please apply your changes to the latest version and try again"
            }
            FaultKind::Throttle => "injected fault: too many requests, please try again later",
            FaultKind::Unavailable => {
                "injected fault: the server is currently unable to handle the request"
            }
            FaultKind::Gone => "injected fault: too old resource version",
            _ => "injected fault: an error on the server has prevented the request from succeeding",
        }
    }

    pub fn retry_after(self) -> Option<u64> {
        (self.0 == FaultKind::Throttle).then_some(1)
    }
}

/// What a request is, as far as faults care.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestClass {
    pub write: bool,
    pub watch: bool,
    /// A watch from a resourceVersion (not a fresh list-and-watch).
    pub resumes: bool,
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decision {
    pub delay: Option<Duration>,
    pub answer: Option<Injected>,
    /// For a watch served normally: cut it after this long.
    pub cut_watch_after: Option<Duration>,
}

struct Active {
    spec: Option<FaultSpec>,
    rng: StdRng,
}

/// The faults of one embedded cluster; shared across its restarts.
pub struct Faults {
    active: Mutex<Active>,
    counts: [AtomicU64; FaultKind::ALL.len()],
    restart: Notify,
    changed: Notify,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("spec", &self.spec())
            .finish_non_exhaustive()
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new(None)
    }
}

impl Faults {
    pub fn new(spec: Option<FaultSpec>) -> Faults {
        let seed = spec.as_ref().map_or(0, |s| s.seed);
        Faults {
            active: Mutex::new(Active {
                spec,
                rng: StdRng::seed_from_u64(seed),
            }),
            counts: Default::default(),
            restart: Notify::new(),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Active> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the active spec (None: no faults) and reseeds from it.
    pub fn set(&self, spec: Option<FaultSpec>) {
        {
            let mut active = self.lock();
            active.rng = StdRng::seed_from_u64(spec.as_ref().map_or(0, |s| s.seed));
            active.spec = spec;
        }
        self.changed.notify_waiters();
    }

    pub fn spec(&self) -> Option<FaultSpec> {
        self.lock().spec.clone()
    }

    fn count(&self, kind: FaultKind) {
        self.counts[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Faults injected so far, by kind (every kind, zeros included).
    pub fn injected(&self) -> BTreeMap<&'static str, u64> {
        FaultKind::ALL
            .iter()
            .map(|k| (k.as_str(), self.counts[k.index()].load(Ordering::Relaxed)))
            .collect()
    }

    /// Decides the fate of one request. Always draws the same numbers for
    /// the same class, so the sequence depends only on the seed and the
    /// order of requests.
    pub fn decide(&self, class: RequestClass) -> Decision {
        let mut active = self.lock();
        let Active { spec, rng } = &mut *active;
        let Some(spec) = spec.as_ref() else {
            return Decision::default();
        };
        let (hold, hold_for, answer_roll, cut, cut_at) = (
            rng.random::<f64>(),
            rng.random::<f64>(),
            rng.random::<f64>(),
            rng.random::<f64>(),
            rng.random::<f64>(),
        );
        let mut decision = Decision::default();
        if let Some((p, longest)) = spec.delay
            && hold < p
        {
            decision.delay = Some(longest.mul_f64(hold_for));
        }
        let mut answers = vec![
            (FaultKind::Throttle, spec.throttle),
            (FaultKind::ServerError, spec.server_error),
            (FaultKind::Unavailable, spec.unavailable),
        ];
        if class.write {
            answers.push((FaultKind::Conflict, spec.conflict));
        }
        if class.resumes {
            answers.push((FaultKind::Gone, spec.gone));
        }
        // One roll over the stacked probabilities: at most one answer.
        let mut threshold = 0.0;
        for (kind, p) in answers {
            threshold += p;
            if answer_roll < threshold {
                decision.answer = Some(Injected(kind));
                break;
            }
        }
        if class.watch
            && decision.answer.is_none()
            && let Some((p, within)) = spec.drop_watch
            && cut < p
        {
            decision.cut_watch_after = Some(within.mul_f64(cut_at));
        }
        drop(active);
        if decision.delay.is_some() {
            self.count(FaultKind::Delay);
        }
        if let Some(Injected(kind)) = decision.answer {
            self.count(kind);
        }
        decision
    }

    /// Counts a watch actually cut (a watch that ended first is not).
    pub fn watch_cut(&self) {
        self.count(FaultKind::DropWatch);
    }

    /// Asks whoever runs the cluster to restart it (see [`Faults::restart_due`]).
    pub fn request_restart(&self) {
        self.restart.notify_one();
    }

    /// Resolves when a restart is due: asked for, or the spec's period
    /// (jittered from the seed) has passed. Counts it.
    pub async fn restart_due(&self) {
        loop {
            let wait = self.next_restart();
            let changed = self.changed.notified();
            tokio::select! {
                () = self.restart.notified() => break,
                () = changed => continue,
                () = sleep_or_never(wait) => break,
            }
        }
        self.count(FaultKind::Restart);
    }

    fn next_restart(&self) -> Option<Duration> {
        let mut active = self.lock();
        let every = active.spec.as_ref()?.restart_every?;
        let factor = 0.5 + active.rng.random::<f64>();
        Some(every.mul_f64(factor))
    }

    /// What `GET /edgedeck/faults` answers.
    pub fn to_json(&self) -> Value {
        json!({
            "spec": self.spec().map(|s| s.to_string()),
            "injected": self.injected(),
        })
    }
}

async fn sleep_or_never(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

/// `/edgedeck/faults…`: the control endpoint.
///
/// - `GET /edgedeck/faults` → `{"spec": "seed=1,503=0.05" | null, "injected": {...}}`
/// - `PUT /edgedeck/faults` with `{"spec": "…"}` sets the faults (400 with
///   the parser's message if the spec is bad); `DELETE` clears them
/// - `POST /edgedeck/faults/restart` restarts the server (with a data
///   directory only: without one a restart would lose everything)
pub fn control(
    faults: &Faults,
    restartable: bool,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Value, String> {
    let action = path
        .trim_start_matches("/edgedeck/faults")
        .trim_matches('/');
    match (method, action) {
        ("GET", "") => Ok(faults.to_json()),
        ("PUT" | "POST", "") => {
            let request: Value = serde_json::from_slice(body).map_err(|e| format!("body: {e}"))?;
            let text = request
                .get("spec")
                .and_then(Value::as_str)
                .ok_or("body: expected {\"spec\": \"…\"}")?;
            let spec: FaultSpec = text.parse().map_err(|e: SpecError| e.to_string())?;
            if spec.restart_every.is_some() && !restartable {
                return Err(NO_DATA_DIR.into());
            }
            faults.set(Some(spec));
            Ok(faults.to_json())
        }
        ("DELETE", "") => {
            faults.set(None);
            Ok(faults.to_json())
        }
        ("POST", "restart") if restartable => {
            faults.request_restart();
            Ok(json!({"restart": "requested"}))
        }
        ("POST", "restart") => Err(NO_DATA_DIR.into()),
        _ => Err(format!("unknown faults control {method} {path}")),
    }
}

/// Why a cluster without a data directory does not restart.
pub const NO_DATA_DIR: &str =
    "restarting needs a data directory (--data-dir): without one a restart loses every object";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FaultSpec, String> {
        text.parse::<FaultSpec>().map_err(|e| e.to_string())
    }

    #[test]
    fn every_fault_kind_parses() {
        let spec = parse(
            "seed=42, drop-watch=0.2:3s, 409=0.1, 429=5%, 500=0.01, 503=0.02, delay=0.3:250ms, 410=1, restart=1m",
        )
        .expect("parses");
        assert_eq!(
            spec,
            FaultSpec {
                seed: 42,
                drop_watch: Some((0.2, Duration::from_secs(3))),
                conflict: 0.1,
                throttle: 0.05,
                server_error: 0.01,
                unavailable: 0.02,
                delay: Some((0.3, Duration::from_millis(250))),
                gone: 1.0,
                restart_every: Some(Duration::from_secs(60)),
            }
        );
        assert_eq!(
            parse("drop-watch=1").expect("parses").drop_watch,
            Some((1.0, DEFAULT_DROP_WITHIN))
        );
    }

    #[test]
    fn a_spec_prints_back_to_itself() {
        let spec = parse("seed=7,drop-watch=0.5:2s,409=0.25,delay=0.5:100ms,410=0.5,restart=30s")
            .expect("parses");
        assert_eq!(parse(&spec.to_string()), Ok(spec));
    }

    #[test]
    fn malformed_specs_say_what_is_wrong() {
        for (text, says) in [
            ("", "empty"),
            ("429", "expected KEY=VALUE"),
            ("429=lots", "expected a probability like 0.05 or 5%"),
            ("429=1.5", "between 0 and 1"),
            ("429=-0.1", "between 0 and 1"),
            ("503=120%", "between 0 and 1"),
            ("delay=0.1", "expected PROBABILITY:DURATION"),
            ("delay=0.1:soon", "is not a duration"),
            ("restart=0s", "must be longer than zero"),
            ("seed=x", "expected a whole number"),
            ("418=0.1", "unknown fault \"418\""),
            ("429=0.1,429=0.2", "429 is given twice"),
            ("429=0.5,500=0.4,503=0.2", "more than every request"),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.starts_with("invalid fault spec: "), "{text}: {error}");
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    fn decisions(spec: &str, classes: &[RequestClass]) -> Vec<Decision> {
        let faults = Faults::new(Some(parse(spec).expect("parses")));
        classes.iter().map(|&c| faults.decide(c)).collect()
    }

    fn mixed() -> Vec<RequestClass> {
        (0..200)
            .map(|i| RequestClass {
                write: i % 3 == 0,
                watch: i % 5 == 0,
                resumes: i % 10 == 0,
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_faults_and_another_seed_others() {
        let spec = "seed=9,drop-watch=0.5,409=0.1,429=0.1,500=0.1,503=0.1,delay=0.2:1s,410=0.5";
        let first = decisions(spec, &mixed());
        assert_eq!(first, decisions(spec, &mixed()));
        let other = decisions(&spec.replace("seed=9", "seed=10"), &mixed());
        assert_ne!(first, other);
        assert!(first.iter().any(|d| d.answer.is_some()));
        assert!(first.iter().any(|d| d.delay.is_some()));
        assert!(first.iter().any(|d| d.cut_watch_after.is_some()));
    }

    #[test]
    fn setting_a_spec_again_replays_it_from_the_start() {
        let spec = parse("seed=3,500=0.5").expect("parses");
        let faults = Faults::new(Some(spec.clone()));
        let first: Vec<Decision> = mixed().into_iter().map(|c| faults.decide(c)).collect();
        faults.set(Some(spec));
        let again: Vec<Decision> = mixed().into_iter().map(|c| faults.decide(c)).collect();
        assert_eq!(first, again);
    }

    #[test]
    fn conflicts_hit_only_writes_and_gone_only_resumed_watches() {
        let read = RequestClass::default();
        let all = decisions("409=1,410=1", &[read; 50]);
        assert!(all.iter().all(|d| d.answer.is_none()), "{all:?}");
        let write = RequestClass {
            write: true,
            ..RequestClass::default()
        };
        let resume = RequestClass {
            watch: true,
            resumes: true,
            ..RequestClass::default()
        };
        let answers: Vec<_> = decisions("409=1", &[write])
            .into_iter()
            .chain(decisions("410=1", &[resume]))
            .map(|d| d.answer.map(Injected::code))
            .collect();
        assert_eq!(answers, [Some(409), Some(410)]);
    }

    #[test]
    fn fractions_are_roughly_kept_and_counted() {
        let faults = Faults::new(Some(parse("seed=1,503=0.2").expect("parses")));
        let answered = (0..5000)
            .filter(|_| faults.decide(RequestClass::default()).answer.is_some())
            .count();
        assert!((800..1200).contains(&answered), "{answered} of 5000");
        assert_eq!(faults.injected()["503"], answered as u64);
        assert_eq!(faults.injected()["429"], 0);
    }

    #[test]
    fn no_spec_means_no_faults() {
        let faults = Faults::default();
        assert_eq!(faults.decide(RequestClass::default()), Decision::default());
        assert!(faults.injected().values().all(|&n| n == 0));
    }

    #[test]
    fn the_control_endpoint_sets_clears_and_refuses_bad_specs() {
        let faults = Faults::default();
        let set = control(
            &faults,
            true,
            "PUT",
            "/edgedeck/faults",
            br#"{"spec":"seed=5,429=0.5"}"#,
        )
        .expect("set");
        assert_eq!(set["spec"], "seed=5,429=0.5");
        let bad = control(
            &faults,
            true,
            "PUT",
            "/edgedeck/faults",
            br#"{"spec":"429=2"}"#,
        )
        .expect_err("refused");
        assert!(bad.contains("between 0 and 1"), "{bad}");
        assert_eq!(
            faults.spec().map(|s| s.throttle),
            Some(0.5),
            "kept on error"
        );
        control(&faults, true, "DELETE", "/edgedeck/faults", b"").expect("cleared");
        assert_eq!(faults.spec(), None);
        let refused = control(&faults, false, "POST", "/edgedeck/faults/restart", b"")
            .expect_err("no data dir");
        assert!(refused.contains("--data-dir"), "{refused}");
        let periodic = control(
            &faults,
            false,
            "PUT",
            "/edgedeck/faults",
            br#"{"spec":"restart=1m"}"#,
        )
        .expect_err("no data dir");
        assert!(periodic.contains("--data-dir"), "{periodic}");
    }

    #[tokio::test]
    async fn a_requested_restart_is_due_at_once_and_counted() {
        let faults = Faults::default();
        faults.request_restart();
        tokio::time::timeout(Duration::from_secs(5), faults.restart_due())
            .await
            .expect("due");
        assert_eq!(faults.injected()["restart"], 1);
    }

    #[test]
    fn periodic_restarts_come_within_half_to_one_and_a_half_periods() {
        let faults = Faults::new(Some(parse("seed=2,restart=10s").expect("parses")));
        for _ in 0..100 {
            let wait = faults.next_restart().expect("periodic");
            assert!(
                (Duration::from_secs(5)..=Duration::from_secs(15)).contains(&wait),
                "{wait:?}"
            );
        }
        assert_eq!(Faults::default().next_restart(), None);
    }
}
