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
    #[error("{} \"{}\" is invalid: {}", .0.kind, .0.name, .1)]
    Invalid(Subject, String),
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
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) | ApiError::NoSuchResource => StatusCode::NOT_FOUND,
            ApiError::AlreadyExists(_) | ApiError::Conflict(..) => StatusCode::CONFLICT,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(..) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Gone { .. } | ApiError::ContinueExpired => StatusCode::GONE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable `reason` clients switch on (kube-rs, client-go).
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) | ApiError::NoSuchResource => "NotFound",
            ApiError::AlreadyExists(_) => "AlreadyExists",
            ApiError::Conflict(..) => "Conflict",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Invalid(..) => "Invalid",
            ApiError::Gone { .. } | ApiError::ContinueExpired => "Expired",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::PayloadTooLarge(_) => "RequestEntityTooLarge",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::Internal(_) => "InternalError",
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
            status["details"] = json!({
                "name": subject.name,
                "group": subject.group,
                "kind": subject.resource,
            });
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.to_status().to_string();
        (
            self.code(),
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
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
}

pub type ApiResult<T> = Result<T, ApiError>;
