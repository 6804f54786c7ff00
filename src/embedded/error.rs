//! Errors of the embedded API server, and their rendering as Kubernetes
//! `Status` objects (what kubectl and kube-rs parse to show a failure).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Which object an error is about, for messages like `pods "x" not found`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub group: String,
    /// Plural resource name (`deployments`).
    pub resource: String,
    pub kind: String,
    pub name: String,
}

impl Subject {
    /// `deployments.apps` or `pods` — the qualified resource Kubernetes prints.
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    /// `Deployment.apps` or `Pod`: what kube-apiserver names in validation errors.
    fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

/// One field of a failed validation, `field: message` (`metadata.name:
/// Invalid value: "Bad": …`), as kube-apiserver lists them.
fn invalid_message(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// The `causes` clients (kubectl) show per field; the reason is the
/// machine-readable form of the message's first words.
fn invalid_causes(errors: &[String]) -> Vec<Value> {
    errors
        .iter()
        .map(|error| {
            let (field, message) = match error.split_once(": ") {
                Some((field, message)) if !field.contains(' ') => (field, message),
                _ => ("", error.as_str()),
            };
            let reason = if message.starts_with("Required value") {
                "FieldValueRequired"
            } else if message.starts_with("Unsupported value") {
                "FieldValueNotSupported"
            } else if message.starts_with("Forbidden") {
                "FieldValueForbidden"
            } else if message.starts_with("Too long") {
                "FieldValueTooLong"
            } else if message.contains("must be of type") {
                "FieldValueTypeInvalid"
            } else {
                "FieldValueInvalid"
            };
            let mut cause = json!({"reason": reason, "message": message});
            if !field.is_empty() {
                cause["field"] = json!(field);
            }
            cause
        })
        .collect()
}

/// One field an apply would take from another manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyConflict {
    /// `"alpha"`, or `"kubectl-edit" using v1` for a manager that updated.
    pub manager: String,
    /// `.spec.replicas`, `.spec.template.spec.containers[name="c"].image`.
    pub field: String,
}

/// kube-apiserver's wording (structured-merge-diff's `Conflicts.Error`):
/// one conflict inline, several grouped by manager, managers sorted.
fn apply_conflict_message(conflicts: &[ApplyConflict]) -> String {
    let detail = match conflicts {
        [one] => format!("conflict with {}: {}", one.manager, one.field),
        many => {
            let mut managers: Vec<&str> = many.iter().map(|c| c.manager.as_str()).collect();
            managers.sort_unstable();
            managers.dedup();
            let mut lines = Vec::new();
            for manager in managers {
                lines.push(format!("conflicts with {manager}:"));
                for c in many.iter().filter(|c| c.manager == manager) {
                    lines.push(format!("- {}", c.field));
                }
            }
            lines.join("\n")
        }
    };
    let plural = if conflicts.len() == 1 { "" } else { "s" };
    format!(
        "Apply failed with {} conflict{plural}: {detail}",
        conflicts.len()
    )
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{} \"{}\" not found", .0.qualified(), .0.name)]
    NotFound(Subject),
    #[error("the server could not find the requested resource")]
    NoSuchResource,
    #[error("{} \"{}\" already exists", .0.qualified(), .0.name)]
    AlreadyExists(Subject),
    #[error("Operation cannot be fulfilled on {} \"{}\": {}", .0.qualified(), .0.name, .1)]
    Conflict(Subject, String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{} \"{}\" is invalid: {}", .0.qualified_kind(), .0.name, invalid_message(.1))]
    Invalid(Subject, Vec<String>),
    #[error("{}", apply_conflict_message(.0))]
    ApplyConflict(Vec<ApplyConflict>),
    #[error("too old resource version: {requested} ({oldest})")]
    Gone { requested: u64, oldest: u64 },
    #[error(
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."
    )]
    ContinueExpired,
    #[error("Unauthorized")]
    Unauthorized,
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    #[error("the request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    RequestTimeout(String),
    #[error("too many watches are open ({0}); try again later")]
    TooManyWatches(usize),
    #[error("{0}")]
    Internal(String),
    /// An answer chosen by fault injection (see `faults`).
    #[error("{}", .0.message())]
    Injected(super::faults::Injected),
}

impl ApiError {
    pub fn code(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) | ApiError::NoSuchResource => StatusCode::NOT_FOUND,
            ApiError::AlreadyExists(_) | ApiError::Conflict(..) | ApiError::ApplyConflict(_) => {
                StatusCode::CONFLICT
            }
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(..) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Gone { .. } | ApiError::ContinueExpired => StatusCode::GONE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooManyWatches(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Injected(fault) => {
                StatusCode::from_u16(fault.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    /// The machine-readable `reason` clients switch on (kube-rs, client-go).
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) | ApiError::NoSuchResource => "NotFound",
            ApiError::AlreadyExists(_) => "AlreadyExists",
            ApiError::Conflict(..) | ApiError::ApplyConflict(_) => "Conflict",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Invalid(..) => "Invalid",
            ApiError::Gone { .. } | ApiError::ContinueExpired => "Expired",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::PayloadTooLarge(_) => "RequestEntityTooLarge",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::RequestTimeout(_) => "Timeout",
            ApiError::TooManyWatches(_) => "TooManyRequests",
            ApiError::Internal(_) => "InternalError",
            ApiError::Injected(fault) => fault.reason(),
        }
    }

    fn subject(&self) -> Option<&Subject> {
        match self {
            ApiError::NotFound(s)
            | ApiError::AlreadyExists(s)
            | ApiError::Conflict(s, _)
            | ApiError::Invalid(s, _) => Some(s),
            _ => None,
        }
    }

    /// The `Status` object, also used inside watch `ERROR` events.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code().as_u16(),
        });
        if let Some(subject) = self.subject() {
            // Like kube-apiserver: validation errors name the kind, the
            // others the resource; an empty group is omitted.
            let kind = match self {
                ApiError::Invalid(..) => &subject.kind,
                _ => &subject.resource,
            };
            let mut details = json!({"name": subject.name, "kind": kind});
            if !subject.group.is_empty() {
                details["group"] = json!(subject.group);
            }
            if let ApiError::Invalid(_, errors) = self {
                details["causes"] = json!(invalid_causes(errors));
            }
            status["details"] = details;
        }
        if let ApiError::ApplyConflict(conflicts) = self {
            let causes: Vec<Value> = conflicts
                .iter()
                .map(|c| {
                    json!({
                        "reason": "FieldManagerConflict",
                        "message": format!("conflict with {}", c.manager),
                        "field": c.field,
                    })
                })
                .collect();
            status["details"] = json!({ "causes": causes });
        }
        if let Some(seconds) = self.retry_after() {
            status["details"] = json!({ "retryAfterSeconds": seconds });
        }
        status
    }

    /// Seconds a client should wait before trying again, for `Retry-After`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::TooManyWatches(_) => Some(super::limits::WATCH_RETRY_AFTER_SECS),
            ApiError::Injected(fault) => fault.retry_after(),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.to_status().to_string();
        let mut response = (
            self.code(),
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// Errors of starting or running the embedded cluster (not of single requests).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("this embedded cluster runs without the fleet simulator")]
    NoSimulator,
    #[error("refusing to listen on {0}: the embedded cluster only listens on loopback addresses")]
    NotLoopback(std::net::SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot write kubeconfig {path}: {source}")]
    WriteKubeconfig {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build a client for the embedded cluster: {0}")]
    Client(String),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    #[error("cannot serialise kubeconfig: {0}")]
    Kubeconfig(#[from] serde_yaml_ng::Error),
    #[error(transparent)]
    Persist(#[from] super::persist::PersistError),
    #[error("{}", super::faults::NO_DATA_DIR)]
    RestartWithoutDataDir,
}

pub type ApiResult<T> = Result<T, ApiError>;
