//! What every signed-in page shows around its content, and small response helpers.

use actix_web::HttpResponse;
use askama::Template;

use crate::auth::session::{CompanyAccess, SignedIn};
use crate::error::PortalError;
use crate::models::activity::Activity;
use crate::state::AppState;

/// The navigation of signed-in pages.
pub struct Layout {
    pub email: String,
    pub is_staff: bool,
    pub csrf: String,
    /// The company whose pages these are (admins: always theirs).
    pub company: Option<NavCompany>,
    /// Which navigation entry is current.
    pub active: &'static str,
}

pub struct NavCompany {
    pub shortcode: String,
    pub name: String,
    /// Provisioning failures since this person last opened the activity page.
    pub failures: i64,
}

impl Layout {
    pub fn of(signed: &SignedIn, active: &'static str) -> Layout {
        Layout { email: signed.account.email.clone(), is_staff: signed.is_staff(), csrf: signed.csrf().to_owned(), company: None, active }
    }

    pub async fn for_company(state: &AppState, access: &CompanyAccess, active: &'static str) -> Result<Layout, PortalError> {
        let (company, seen) = (access.company.company_id(), access.signed.account.activity_seen_at);
        let failures = state.db.read(move |conn| Activity::failures_since(conn, company, seen).map_err(PortalError::from)).await?;
        let mut layout = Layout::of(&access.signed, active);
        layout.company = Some(NavCompany { shortcode: access.company.shortcode.clone(), name: access.company.name.clone(), failures });
        Ok(layout)
    }
}

/// Renders a page as HTML.
pub fn render(page: &impl Template) -> Result<HttpResponse, PortalError> {
    render_status(actix_web::http::StatusCode::OK, page)
}

pub fn render_status(status: actix_web::http::StatusCode, page: &impl Template) -> Result<HttpResponse, PortalError> {
    let body = page.render().map_err(|e| PortalError::Internal(anyhow::anyhow!("template: {e}")))?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
}

/// 303 See Other: where a successful form post goes.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", location.to_owned())).finish()
}

/// A human date-time in UTC.
pub fn when(at: &chrono::NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}
