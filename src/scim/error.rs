//! SCIM errors (RFC 7644 §3.12): every SCIM route answers errors with this JSON, never HTML.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::db::DbError;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json; charset=utf-8";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// `scimType` values from RFC 7644 Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {detail}")]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<ScimType>, detail: impl Into<String>) -> ScimError {
        ScimError { status, scim_type, detail: detail.into() }
    }

    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> ScimError {
        ScimError::bad_request(ScimType::InvalidValue, detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> ScimError {
        ScimError::bad_request(ScimType::InvalidPath, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::CONFLICT, Some(ScimType::Uniqueness), detail)
    }

    pub fn unauthorized() -> ScimError {
        ScimError::new(
            StatusCode::UNAUTHORIZED,
            None,
            "Authentication failed: send the company's current secret token as `Authorization: Bearer <token>`.",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> ScimError {
        ScimError::new(StatusCode::FORBIDDEN, None, detail)
    }

    pub fn internal() -> ScimError {
        ScimError::new(StatusCode::INTERNAL_SERVER_ERROR, None, "Internal error; it has been logged.")
    }

    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type.as_str());
        }
        body
    }
}

impl From<DbError> for ScimError {
    fn from(err: DbError) -> Self {
        // Logged once here with its cause; the client gets an opaque 500.
        tracing::error!(error = %err, "database error while serving SCIM");
        ScimError::internal()
    }
}

impl From<diesel::result::Error> for ScimError {
    fn from(err: diesel::result::Error) -> Self {
        ScimError::from(DbError::Query(err))
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.content_type(SCIM_CONTENT_TYPE);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer realm=\"SCIM\""));
        }
        response.body(self.body().to_string())
    }
}
