//! What can go wrong in a NodeGroup reconcile, and how soon to retry.

use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("NodeGroup has no metadata.name")]
    Unnamed,
    #[error("the node cache has not finished its first list yet")]
    NodesNotSynced,
    #[error("{what}: {}", describe(.source))]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("building a JSON patch: {0}")]
    Patch(#[from] serde_json::Error),
    /// Several independent writes failed; the others went through.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<Error>),
}

impl Error {
    pub fn kube(what: impl Into<String>, source: kube::Error) -> Self {
        Error::Kube {
            what: what.into(),
            source,
        }
    }

    /// One error for a batch of independent writes, if any failed.
    pub fn from_many(mut errors: Vec<Error>) -> Option<Self> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(Error::Several(errors)),
        }
    }
}

/// HTTP status of an API error, if the server answered with one.
pub fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// A one-line description: kube's own `Display` of an API error embeds the
/// whole `Status` debug dump, which is unreadable in the console's event log.
pub fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => {
            format!("{} (HTTP {})", status.message, status.code)
        }
        kube::Error::Api(status) => format!("HTTP {} {}", status.code, status.reason),
        other => other.to_string(),
    }
}

const FIRST_RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(300);

/// Delay before retry number `attempt` (1-based) of a failing reconcile:
/// 5s doubling up to 5 minutes, so a permanently broken object costs little
/// while a transient failure is retried quickly.
pub fn retry_delay(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_cap() {
        assert_eq!(retry_delay(0), Duration::from_secs(5));
        assert_eq!(retry_delay(1), Duration::from_secs(5));
        assert_eq!(retry_delay(2), Duration::from_secs(10));
        assert_eq!(retry_delay(4), Duration::from_secs(40));
        assert_eq!(retry_delay(7), Duration::from_secs(300));
        assert_eq!(retry_delay(u32::MAX), Duration::from_secs(300));
    }

    fn api_error(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            message: message.into(),
            reason: "NotFound".into(),
            ..Default::default()
        }))
    }

    #[test]
    fn api_errors_read_as_one_line() {
        let e = Error::kube(
            "labelling node n1",
            api_error(404, "nodes \"n1\" not found"),
        );
        assert_eq!(
            e.to_string(),
            "labelling node n1: nodes \"n1\" not found (HTTP 404)"
        );
        assert_eq!(status_code(&api_error(405, "")), Some(405));
        assert_eq!(describe(&api_error(409, "")), "HTTP 409 NotFound");
    }

    #[test]
    fn many_errors_fold_into_one() {
        assert!(Error::from_many(vec![]).is_none());
        let one = Error::from_many(vec![Error::Unnamed]).map(|e| e.to_string());
        assert_eq!(one.as_deref(), Some("NodeGroup has no metadata.name"));
        let two =
            Error::from_many(vec![Error::Unnamed, Error::NodesNotSynced]).map(|e| e.to_string());
        assert_eq!(
            two.as_deref(),
            Some(
                "NodeGroup has no metadata.name; the node cache has not finished its first list yet"
            )
        );
    }
}
