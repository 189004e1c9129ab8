//! Sign-in (throttled, no account enumeration), sign-out, password change, start page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::layout::{Layout, render, render_status, see_other};
use crate::auth::password::{dummy_hash, hash_password, verify_password};
use crate::auth::session::{self, SignedIn};
use crate::domain::{Password, Secret};
use crate::error::PortalError;
use crate::models::account::Account;
use crate::models::session::{MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_CLIENT, Session, SignInFailures};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "account/sign_in.html")]
pub struct SignInPage {
    csrf: String,
    next: String,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf_token: String,
}

/// Only local paths are followed after sign-in (no open redirect).
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') { next.to_owned() } else { "/".to_owned() }
}

fn sign_in_page(req: &HttpRequest, state: &AppState, status: StatusCode, page_fn: impl FnOnce(String) -> SignInPage) -> Result<HttpResponse, PortalError> {
    let (csrf, cookie) = session::anonymous_csrf(req, state.public_url.is_https());
    let page = page_fn(csrf);
    let mut response = render_status(status, &page)?;
    if let Some(cookie) = cookie {
        response.add_cookie(&cookie).map_err(|e| PortalError::Internal(anyhow::anyhow!(e)))?;
    }
    Ok(response)
}

pub async fn sign_in_form(req: HttpRequest, state: web::Data<AppState>, query: web::Query<SignInQuery>) -> Result<HttpResponse, PortalError> {
    let next = safe_next(query.next.as_deref().unwrap_or("/"));
    sign_in_page(&req, &state, StatusCode::OK, |csrf| SignInPage { csrf, next, email: String::new(), error: None })
}

enum Attempt {
    Throttled,
    Failed,
    Ok(i64),
}

pub async fn sign_in(req: HttpRequest, state: web::Data<AppState>, form: web::Form<SignInForm>) -> Result<HttpResponse, PortalError> {
    session::check_anonymous_csrf(&req, &form.csrf_token)?;
    let form = form.into_inner();
    let email_lower = form.email.trim().to_lowercase();
    let client = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    let keys = vec![format!("account:{email_lower}"), format!("client:{client}")];
    let password = form.password.clone();
    let attempt = state
        .db
        .write(move |conn| {
            if SignInFailures::count_recent(conn, &keys[0])? >= MAX_FAILURES_PER_ACCOUNT
                || SignInFailures::count_recent(conn, &keys[1])? >= MAX_FAILURES_PER_CLIENT
            {
                return Ok(Attempt::Throttled);
            }
            let account = Account::find_by_email(conn, &email_lower)?;
            // Verify against a dummy hash for unknown emails: same time, same answer.
            let hash = account.as_ref().map_or(dummy_hash(), |a| a.password_hash.as_str());
            match (verify_password(&password, hash), account) {
                (true, Some(account)) => Ok(Attempt::Ok(account.id)),
                _ => {
                    SignInFailures::record(conn, &keys)?;
                    Ok::<_, PortalError>(Attempt::Failed)
                }
            }
        })
        .await?;
    let (status, error) = match attempt {
        Attempt::Ok(account_id) => {
            let secret = state.db.write(move |conn| Session::start(conn, account_id).map_err(PortalError::from)).await?;
            let mut response = see_other(&safe_next(&form.next));
            response
                .add_cookie(&session::session_cookie(secret.expose(), state.public_url.is_https()))
                .map_err(|e| PortalError::Internal(anyhow::anyhow!(e)))?;
            return Ok(response);
        }
        Attempt::Throttled => (StatusCode::TOO_MANY_REQUESTS, "Too many failed sign-in attempts. Wait 15 minutes, then try again."),
        Attempt::Failed => (StatusCode::UNAUTHORIZED, "The email or password is not correct."),
    };
    let (next, email) = (safe_next(&form.next), form.email.trim().to_owned());
    sign_in_page(&req, &state, status, |csrf| SignInPage { csrf, next, email, error: Some(error.to_owned()) })
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf_token: String,
}

pub async fn sign_out(state: web::Data<AppState>, signed: SignedIn, form: web::Form<CsrfForm>) -> Result<HttpResponse, PortalError> {
    signed.check_csrf(&form.csrf_token)?;
    let id = signed.session.id;
    state.db.write(move |conn| Session::end(conn, id).map_err(PortalError::from)).await?;
    let mut response = see_other("/sign-in");
    response
        .add_cookie(&session::expired_session_cookie(state.public_url.is_https()))
        .map_err(|e| PortalError::Internal(anyhow::anyhow!(e)))?;
    Ok(response)
}

/// `/`: the right start page for whoever is signed in.
pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PortalError> {
    let Some(cookie) = req.cookie(session::SESSION_COOKIE) else { return Ok(see_other("/sign-in")) };
    let secret = Secret::new(cookie.value().to_owned());
    let found = state.db.write(move |conn| Session::resume(conn, &secret).map_err(PortalError::from)).await?;
    let Some((_, account)) = found else { return Ok(see_other("/sign-in")) };
    if account.is_staff() {
        return Ok(see_other("/staff/companies"));
    }
    let company = account.company_id.unwrap_or_default();
    let company = state
        .db
        .read(move |conn| crate::models::Company::find(conn, crate::models::CompanyId(company)).map_err(PortalError::from))
        .await?
        .ok_or(PortalError::NotFound)?;
    Ok(see_other(&format!("/c/{}/entra", company.shortcode)))
}

#[derive(Template)]
#[template(path = "account/password.html")]
pub struct PasswordPage {
    layout: Layout,
    must_change: bool,
    error: Option<String>,
    done: bool,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn password_form(signed: SignedIn) -> Result<HttpResponse, PortalError> {
    let must_change = signed.account.must_change_password;
    render(&PasswordPage { layout: Layout::of(&signed, "account"), must_change, error: None, done: false })
}

pub async fn change_password(state: web::Data<AppState>, signed: SignedIn, form: web::Form<PasswordForm>) -> Result<HttpResponse, PortalError> {
    signed.check_csrf(&form.csrf_token)?;
    let form = form.into_inner();
    let page = |error: String| PasswordPage {
        layout: Layout::of(&signed, "account"),
        must_change: signed.account.must_change_password,
        error: Some(error),
        done: false,
    };
    let current_hash = signed.account.password_hash.clone();
    let current = form.current.clone();
    let current_ok = web::block(move || verify_password(&current, &current_hash)).await.unwrap_or(false);
    if !current_ok {
        return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page("The current password is not correct.".into()));
    }
    let new = match Password::parse(&form.new) {
        Ok(p) if form.new == form.confirm => p,
        Ok(_) => return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page("The two new passwords differ.".into())),
        Err(e) => return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page(format!("The new {e}."))),
    };
    let hash = web::block(move || hash_password(&new)).await.map_err(|e| PortalError::Internal(anyhow::anyhow!(e.to_string())))??;
    let (account, session) = (signed.account.id, signed.session.id);
    state
        .db
        .write(move |conn| {
            Account::set_password(conn, account, &hash)?;
            Session::end_others(conn, account, session)?;
            Ok::<_, PortalError>(())
        })
        .await?;
    render(&PasswordPage { layout: Layout::of(&signed, "account"), must_change: false, error: None, done: true })
}
