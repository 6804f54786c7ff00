//! Kubernetes `Status` failures, as every client expects them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A failed request, answered as a `v1 Status` with the matching HTTP code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiStatus {
    pub code: StatusCode,
    pub reason: &'static str,
    pub message: String,
    /// Seconds for `Retry-After` (and `details.retryAfterSeconds`).
    pub retry_after: Option<u64>,
}

impl ApiStatus {
    fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> ApiStatus {
        ApiStatus {
            code,
            reason,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Over a per-token limit: try again after `retry_after` seconds.
    pub(crate) fn too_many_requests(message: impl Into<String>, retry_after: u64) -> ApiStatus {
        ApiStatus {
            retry_after: Some(retry_after),
            ..ApiStatus::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", message)
        }
    }

    pub(crate) fn unauthorized() -> ApiStatus {
        ApiStatus::new(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> ApiStatus {
        ApiStatus::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiStatus {
        ApiStatus::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiStatus {
        ApiStatus::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    pub(crate) fn method_not_allowed(method: &str) -> ApiStatus {
        ApiStatus::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("the edge API is read-only: {method} is not allowed"),
        )
    }

    /// What a watch from a version the server no longer has gets.
    pub(crate) fn expired(message: impl Into<String>) -> ApiStatus {
        ApiStatus::new(StatusCode::GONE, "Expired", message)
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> ApiStatus {
        ApiStatus::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            message,
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> ApiStatus {
        ApiStatus::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code.as_u16(),
        });
        if let Some(seconds) = self.retry_after {
            status["details"] = json!({"retryAfterSeconds": seconds});
        }
        status
    }
}

impl IntoResponse for ApiStatus {
    fn into_response(self) -> Response {
        let body = self.to_json().to_string();
        let mut response = (self.code, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, seconds.into());
        }
        if self.code == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"edgedeck edge API\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_json_is_kubernetes_shaped() {
        let status = ApiStatus::method_not_allowed("POST").to_json();
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["apiVersion"], "v1");
        assert_eq!(status["status"], "Failure");
        assert_eq!(status["reason"], "MethodNotAllowed");
        assert_eq!(status["code"], 405);
        assert!(
            status["message"]
                .as_str()
                .is_some_and(|m| m.contains("POST"))
        );
    }

    #[test]
    fn responses_carry_code_and_content_type() {
        let response = ApiStatus::unauthorized().into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        let response = ApiStatus::expired("too old").into_response();
        assert_eq!(response.status(), StatusCode::GONE);
        assert!(!response.headers().contains_key(header::RETRY_AFTER));
        let limited = ApiStatus::too_many_requests("slow down", 3);
        assert_eq!(limited.to_json()["details"]["retryAfterSeconds"], 3);
        let response = limited.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    }
}
