//! Who is signed in to the portal, what they may see, and CSRF protection.
//!
//! - [`SignedIn`]: a live database session (cookie `entrada_session`, HttpOnly, SameSite=Lax,
//!   Secure when PUBLIC_URL is https). Not signed in → redirect to the sign-in page.
//! - [`StaffOnly`]: Client Success staff; anyone else gets 404.
//! - [`CompanyAccess`]: the company of the `{shortcode}` in the URL, for staff or that
//!   company's admins; anyone else gets 404, exactly as for a company that does not exist.
//! - Every state-changing form carries the session's CSRF token (`csrf_token` field); the
//!   sign-in form, which has no session yet, uses a double-submit cookie instead.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::domain::{Secret, constant_time_eq, random_alphanumeric};
use crate::error::PortalError;
use crate::models::Company;
use crate::models::account::Account;
use crate::models::session::Session;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "entrada_session";
pub const CSRF_COOKIE: &str = "entrada_csrf";

pub struct SignedIn {
    pub account: Account,
    pub session: Session,
}

impl SignedIn {
    pub fn is_staff(&self) -> bool {
        self.account.is_staff()
    }

    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }

    /// Refuses a form whose `csrf_token` is not this session's.
    pub fn check_csrf(&self, sent: &str) -> Result<(), PortalError> {
        if constant_time_eq(sent.as_bytes(), self.session.csrf_token.as_bytes()) { Ok(()) } else { Err(PortalError::Csrf) }
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, PortalError> {
    req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| PortalError::Internal(anyhow::anyhow!("no app state")))
}

async fn signed_in(req: HttpRequest) -> Result<SignedIn, PortalError> {
    let next = req.uri().path_and_query().map_or("/".to_owned(), |p| p.as_str().to_owned());
    let required = || PortalError::SignInRequired { next: next.clone() };
    let cookie = req.cookie(SESSION_COOKIE).ok_or_else(required)?;
    let secret = Secret::new(cookie.value().to_owned());
    let state = state(&req)?;
    let (session, account) = state.db.write(move |conn| Session::resume(conn, &secret).map_err(PortalError::from)).await?.ok_or_else(required)?;
    let path = req.path();
    if account.must_change_password && path != "/account/password" && path != "/sign-out" {
        return Err(PortalError::Redirect("/account/password".into()));
    }
    Ok(SignedIn { account, session })
}

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, PortalError>>>>;

impl FromRequest for SignedIn {
    type Error = PortalError;
    type Future = Boxed<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(signed_in(req.clone()))
    }
}

/// Platform staff only.
pub struct StaffOnly(pub SignedIn);

impl FromRequest for StaffOnly {
    type Error = PortalError;
    type Future = Boxed<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let signed = signed_in(req).await?;
            if signed.is_staff() { Ok(StaffOnly(signed)) } else { Err(PortalError::NotFound) }
        })
    }
}

/// A company the signed-in person may manage.
pub struct CompanyAccess {
    pub signed: SignedIn,
    pub company: Company,
}

impl FromRequest for CompanyAccess {
    type Error = PortalError;
    type Future = Boxed<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let shortcode = req.match_info().get("shortcode").unwrap_or_default().to_owned();
            let signed = signed_in(req.clone()).await?;
            let state = state(&req)?;
            let company = state
                .db
                .read(move |conn| Company::find_by_shortcode(conn, &shortcode).map_err(PortalError::from))
                .await?
                .ok_or(PortalError::NotFound)?;
            let allowed = signed.is_staff() || signed.account.company_id == Some(company.id);
            if allowed { Ok(CompanyAccess { signed, company }) } else { Err(PortalError::NotFound) }
        })
    }
}

/// The session cookie for `value`.
pub fn session_cookie(value: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .finish()
}

pub fn expired_session_cookie(secure: bool) -> Cookie<'static> {
    let mut cookie = session_cookie("", secure);
    cookie.make_removal();
    cookie
}

/// The double-submit CSRF token for forms shown before sign-in: the cookie's value, or a new
/// one (then the returned cookie must be set on the response).
pub fn anonymous_csrf(req: &HttpRequest, secure: bool) -> (String, Option<Cookie<'static>>) {
    match req.cookie(CSRF_COOKIE) {
        Some(c) if c.value().len() >= 32 => (c.value().to_owned(), None),
        _ => {
            let token = random_alphanumeric(32);
            let cookie = Cookie::build(CSRF_COOKIE, token.clone()).path("/").http_only(true).same_site(SameSite::Strict).secure(secure).finish();
            (token, Some(cookie))
        }
    }
}

pub fn check_anonymous_csrf(req: &HttpRequest, sent: &str) -> Result<(), PortalError> {
    match req.cookie(CSRF_COOKIE) {
        Some(c) if !sent.is_empty() && constant_time_eq(c.value().as_bytes(), sent.as_bytes()) => Ok(()),
        _ => Err(PortalError::Csrf),
    }
}
