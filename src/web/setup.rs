//! The one-time first-run link (`/setup/{token}`) that creates the first staff account.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::password::hash_password;
use crate::db::DbError;
use crate::domain::{Email, Password, Secret};
use crate::models::account::Account;
use crate::models::setup_token::SetupToken;
use crate::state::AppState;

#[derive(Template, Default)]
#[template(path = "setup/form.html")]
pub struct SetupPage {
    email: String,
    form_error: Option<String>,
    email_error: Option<String>,
    password_error: Option<String>,
}

#[derive(Template)]
#[template(path = "setup/done.html")]
pub struct SetupDonePage {
    heading: &'static str,
    message: &'static str,
}

#[derive(Deserialize)]
pub struct SetupForm {
    email: String,
    password: String,
    password_confirm: String,
}

fn html(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body),
        Err(err) => {
            tracing::error!(error = %err, "template rendering failed");
            HttpResponse::InternalServerError().body("Internal error")
        }
    }
}

fn link_used_up() -> HttpResponse {
    html(
        StatusCode::GONE,
        &SetupDonePage {
            heading: "This setup link is no longer valid",
            message: "A staff account already exists, or a newer link was printed when the server restarted. Ask an existing staff member, or run `entrada staff create`.",
        },
    )
}

async fn link_is_valid(state: &AppState, token: &str) -> Result<bool, DbError> {
    let secret = Secret::new(token.to_owned());
    state
        .db
        .read(move |conn| Ok(!Account::staff_exists(conn)? && SetupToken::is_valid(conn, &secret)?))
        .await
}

pub async fn form(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    match link_is_valid(&state, &token).await {
        Ok(true) => html(StatusCode::OK, &SetupPage::default()),
        Ok(false) => link_used_up(),
        Err(_) => HttpResponse::ServiceUnavailable().body("The database is unavailable; try again shortly."),
    }
}

pub async fn submit(state: web::Data<AppState>, token: web::Path<String>, form: web::Form<SetupForm>) -> HttpResponse {
    let form = form.into_inner();
    let mut page = SetupPage { email: form.email.trim().to_owned(), ..SetupPage::default() };
    let email = Email::parse(&form.email).map_err(|e| page.email_error = Some(e)).ok();
    let password = Password::parse(&form.password).map_err(|e| page.password_error = Some(e)).ok();
    if password.is_some() && form.password != form.password_confirm {
        page.password_error = Some("the two passwords differ".to_owned());
    }
    let (Some(email), Some(password), None) = (email, password, &page.password_error) else {
        return html(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let Ok(Ok(hash)) = web::block(move || hash_password(&password)).await else {
        return HttpResponse::InternalServerError().body("Internal error");
    };
    let secret = Secret::new(token.into_inner());
    let created = state
        .db
        .write(move |conn| {
            if Account::staff_exists(conn)? || !SetupToken::consume(conn, &secret)? {
                return Ok(false);
            }
            Account::create(conn, None, &email, &hash, false)?;
            Ok::<_, DbError>(true)
        })
        .await;
    match created {
        Ok(true) => html(
            StatusCode::OK,
            &SetupDonePage { heading: "Your staff account is ready", message: "Sign in with this email and password. This setup link no longer works." },
        ),
        Ok(false) => link_used_up(),
        Err(err) if err.is_unique_violation() => {
            page.email_error = Some("an account with this email already exists".into());
            html(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(err) => {
            tracing::error!(error = %err, "could not create the first staff account");
            HttpResponse::InternalServerError().body("Internal error")
        }
    }
}
