//! Portal errors: each renders a readable HTML page (SCIM has its own JSON errors).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// Not signed in: redirect to the sign-in page, then back to `next`.
    #[error("sign-in required")]
    SignInRequired { next: String },
    /// Missing, other company's or unknown object: always 404, never a hint that it exists.
    /// Somewhere else first (e.g. a one-time password must be changed).
    #[error("redirect to {0}")]
    Redirect(String),
    #[error("not found")]
    NotFound,
    #[error("the form expired or was not sent by this site")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbError> for PortalError {
    fn from(err: DbError) -> Self {
        PortalError::Internal(anyhow::anyhow!(err))
    }
}

impl From<crate::provisioning::ProvisioningError> for PortalError {
    fn from(err: crate::provisioning::ProvisioningError) -> Self {
        use crate::provisioning::ProvisioningError as P;
        match err {
            P::Db(db) => PortalError::from(db),
            P::NotFound(_) => PortalError::NotFound,
            other => PortalError::BadRequest(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for PortalError {
    fn from(err: diesel::result::Error) -> Self {
        PortalError::from(DbError::Query(err))
    }
}

#[derive(Template)]
#[template(path = "errors/page.html")]
struct ErrorPage<'a> {
    status: u16,
    heading: &'a str,
    message: &'a str,
}

impl ResponseError for PortalError {
    fn status_code(&self) -> StatusCode {
        match self {
            PortalError::SignInRequired { .. } | PortalError::Redirect(_) => StatusCode::SEE_OTHER,
            PortalError::NotFound => StatusCode::NOT_FOUND,
            PortalError::Csrf => StatusCode::FORBIDDEN,
            PortalError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PortalError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let PortalError::SignInRequired { next } = self {
            let location = format!("/sign-in?{}", serde_urlencoded::to_string([("next", next)]).unwrap_or_default());
            return HttpResponse::SeeOther().insert_header(("Location", location)).finish();
        }
        if let PortalError::Redirect(location) = self {
            return HttpResponse::SeeOther().insert_header(("Location", location.clone())).finish();
        }
        let (heading, message): (&str, String) = match self {
            PortalError::NotFound => ("Page not found", "There is nothing here, or you do not have access to it.".into()),
            PortalError::Csrf => ("Please try again", "This form expired or did not come from this site. Go back, reload the page and send it again.".into()),
            PortalError::BadRequest(m) => ("That did not work", m.clone()),
            PortalError::Internal(err) => {
                tracing::error!(error = ?err, "portal request failed");
                ("Something went wrong", "The problem has been logged. Please try again in a moment.".into())
            }
            PortalError::SignInRequired { .. } | PortalError::Redirect(_) => unreachable!("handled above"),
        };
        let status = self.status_code();
        let page = ErrorPage { status: status.as_u16(), heading, message: &message };
        let body = page.render().unwrap_or_else(|_| message.clone());
        HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body)
    }
}
