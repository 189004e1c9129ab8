//! The portal as its people use it, over HTTP with a cookie-keeping client that does not
//! follow redirects: sign-in and sessions, staff pages, Manage Entra ID, Passles, Users and
//! provisioning activity. Every test runs on SQLite and on PostgreSQL.

use std::sync::Mutex;

use diesel::prelude::*;
use entrada::db::schema::{accounts, activity, companies, passle_assignments, passles, scim_tokens, sessions, users};
use entrada::domain::{Email, Password, PassleName, Role, UserAttributes};
use entrada::models::account::Account;
use entrada::models::assignment::Assignment;
use entrada::models::passle::Passle;
use entrada::models::user::{NewPerson, User};
use entrada::models::{Company, CompanyId};
use serde_json::json;

use crate::helpers::{Backend, Scim, TestApp, entra_user, patch_op};
use crate::{on_both_backends, spawn};

// ---------------------------------------------------------------------------------------
// Helpers shared with `portal_isolation` (pub(crate)): a browser-like client, HTML reading,
// and data set up directly in the database.
// ---------------------------------------------------------------------------------------

pub(crate) const PASSWORD: &str = "correct horse battery";
pub(crate) const NEW_PASSWORD: &str = "a much better passphrase";
pub(crate) const STAFF: &str = "cs@entrada.example";

/// One answer of the portal.
pub(crate) struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The `Location` header ("" when there is none).
    pub fn location(&self) -> &str {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The body with HTML entities decoded, for assertions on visible text.
    pub fn text(&self) -> String {
        unescape(&self.body)
    }

    pub fn has(&self, text: &str) -> bool {
        self.text().contains(text)
    }

    /// The whole `Set-Cookie` line for `name`, if this answer sets it.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|line| line.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The value of the cookie `name` set by this answer.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let line = self.set_cookie(name)?;
        let pair = line.split(';').next()?;
        Some(pair.split_once('=')?.1.to_owned())
    }

    /// Describes the answer for assertion messages.
    pub fn describe(&self) -> String {
        let excerpt: String = self.text().chars().take(1500).collect();
        format!("status {} location {:?}\n{excerpt}", self.status, self.location())
    }
}

/// A person's browser: its own cookie jar, and the session's CSRF token once signed in.
pub(crate) struct Portal {
    client: reqwest::Client,
    base: String,
    csrf: Mutex<String>,
}

impl Portal {
    pub fn new(app: &TestApp) -> Portal {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .expect("client");
        Portal { client, base: app.address.clone(), csrf: Mutex::new(String::new()) }
    }

    async fn read(response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.expect("body");
        Page { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Page {
        Portal::read(self.client.get(format!("{}{path}", self.base)).send().await.expect("GET")).await
    }

    /// Posts exactly these fields (repeated names allowed), form-encoded.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        Portal::read(self.client.post(format!("{}{path}", self.base)).form(fields).send().await.expect("POST")).await
    }

    /// Posts a form the way the portal's pages do: with the session's CSRF token.
    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf();
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    pub fn csrf(&self) -> String {
        self.csrf.lock().unwrap().clone()
    }

    /// Fills in the sign-in form (with its double-submit CSRF token); on success remembers
    /// the session's CSRF token for later forms.
    pub async fn try_sign_in_to(&self, email: &str, password: &str, next: &str) -> Page {
        let form = self.get("/sign-in").await;
        assert_eq!(form.status, 200, "{}", form.describe());
        let token = csrf_in(&form.body);
        let answer = self.post("/sign-in", &[("csrf_token", &token), ("next", next), ("email", email), ("password", password)]).await;
        if answer.status == 303 {
            let page = self.get("/account/password").await;
            assert_eq!(page.status, 200, "{}", page.describe());
            *self.csrf.lock().unwrap() = csrf_in(&page.body);
        }
        answer
    }

    pub async fn try_sign_in(&self, email: &str, password: &str) -> Page {
        self.try_sign_in_to(email, password, "/").await
    }

    pub async fn sign_in(&self, email: &str, password: &str) {
        let answer = self.try_sign_in(email, password).await;
        assert_eq!(answer.status, 303, "sign-in of {email} failed: {}", answer.describe());
    }
}

/// Decodes the entities askama writes (`&#38;`, `&#34;`, … and the named ones).
pub(crate) fn unescape(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').filter(|end| *end <= 8).and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ if entity.starts_with("#x") => u32::from_str_radix(&entity[2..], 16).ok().and_then(char::from_u32),
                _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            }?;
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The HTML tag (`<…>`) that contains `needle`.
pub(crate) fn tag_containing<'a>(html: &'a str, needle: &str) -> Option<&'a str> {
    let at = html.find(needle)?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    Some(&html[start..=end])
}

/// The (decoded) value of attribute `name` in `tag`.
pub(crate) fn attr(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

/// The value of the `<input>` with this id.
pub(crate) fn input_value(html: &str, id: &str) -> Option<String> {
    attr(tag_containing(html, &format!("id=\"{id}\""))?, "value")
}

/// The CSRF token a page's forms carry.
pub(crate) fn csrf_in(html: &str) -> String {
    let tag = tag_containing(html, "name=\"csrf_token\"").expect("a form with a csrf_token field");
    attr(tag, "value").expect("csrf_token value")
}

/// Whether the checkbox or radio button `name=value` is checked.
pub(crate) fn is_checked(html: &str, name: &str, value: &str) -> bool {
    let tag = tag_containing(html, &format!("name=\"{name}\" value=\"{value}\"")).unwrap_or_else(|| panic!("no input {name}={value}"));
    tag.contains(" checked")
}

/// The (decoded) target of the link whose text starts with `text`.
pub(crate) fn link_to(html: &str, text: &str) -> Option<String> {
    let at = html.find(&format!(">{text}"))?;
    let tag_start = html[..at].rfind("<a ")?;
    attr(&html[tag_start..=at], "href")
}

pub(crate) fn create_company(app: &TestApp, shortcode: &str, name: &str, entra: bool) -> Company {
    use entrada::domain::{CompanyName, Shortcode};
    Company::create(&mut app.conn(), &Shortcode::parse(shortcode).unwrap(), &CompanyName::parse(name).unwrap(), entra).unwrap()
}

pub(crate) fn create_account(app: &TestApp, company: Option<CompanyId>, email: &str, password: &str, must_change: bool) -> Account {
    let hash = entrada::auth::password::hash_password(&Password::parse(password).unwrap()).unwrap();
    Account::create(&mut app.conn(), company, &Email::parse(email).unwrap(), &hash, must_change).unwrap()
}

/// A staff account, signed in.
pub(crate) async fn staff_portal(app: &TestApp) -> Portal {
    create_account(app, None, STAFF, PASSWORD, false);
    let portal = Portal::new(app);
    portal.sign_in(STAFF, PASSWORD).await;
    portal
}

/// An admin account of `company`, signed in.
pub(crate) async fn admin_portal(app: &TestApp, company: &Company, email: &str) -> Portal {
    create_account(app, Some(company.company_id()), email, PASSWORD, false);
    let portal = Portal::new(app);
    portal.sign_in(email, PASSWORD).await;
    portal
}

pub(crate) fn add_passle(app: &TestApp, company: &Company, name: &str) -> i64 {
    Passle::create(&mut app.conn(), company.company_id(), &PassleName::parse(name).unwrap()).unwrap().id
}

/// A person added directly in the database; returns the internal id.
pub(crate) fn add_person(app: &TestApp, company: &Company, user_name: &str, family: &str, source: &str) -> i64 {
    let attrs = UserAttributes {
        user_name: user_name.to_owned(),
        given_name: Some("Given".into()),
        family_name: Some(family.to_owned()),
        ..Default::default()
    };
    User::insert(&mut app.conn(), company.company_id(), NewPerson::of(&attrs, source), None).unwrap().row.id
}

/// Generates the company's secret token on Manage Entra ID and reads it from the answer.
pub(crate) async fn generate_token(portal: &Portal, shortcode: &str) -> String {
    let page = portal.form(&format!("/c/{shortcode}/entra/token"), &[]).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    input_value(&page.body, "secret-token").unwrap_or_else(|| panic!("no secret token shown: {}", page.describe()))
}

/// The internal id of the person with this userName.
pub(crate) fn person_id(app: &TestApp, user_name: &str) -> i64 {
    users::table.filter(users::user_name_lower.eq(user_name.to_lowercase())).select(users::id).first(&mut app.conn()).unwrap()
}

/// (Passle id, role, source) of each assignment of a person, by Passle id.
pub(crate) fn assignments_of(app: &TestApp, user_id: i64) -> Vec<(i64, String, String)> {
    passle_assignments::table
        .filter(passle_assignments::user_id.eq(user_id))
        .order((passle_assignments::passle_id, passle_assignments::source))
        .select((passle_assignments::passle_id, passle_assignments::role, passle_assignments::source))
        .load(&mut app.conn())
        .unwrap()
}

fn company_row(app: &TestApp, shortcode: &str) -> Company {
    Company::find_by_shortcode(&mut app.conn(), shortcode).unwrap().unwrap()
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort();
    ids
}

// ---------------------------------------------------------------------------------------

on_both_backends!(
    signing_in_lands_each_kind_of_account_on_its_start_page,
    a_wrong_password_and_an_unknown_email_get_the_same_401_page,
    five_failures_lock_an_account_even_against_the_right_password,
    the_sign_in_form_refuses_a_missing_or_foreign_csrf_token,
    signing_out_ends_the_session_and_the_old_cookie_stops_working,
    a_session_is_stored_in_the_database_only_as_a_digest_of_its_cookie,
    changing_the_password_checks_the_current_one_and_the_confirmation,
    staff_see_every_company_and_can_search_by_name_or_shortcode,
    staff_create_a_company_with_a_valid_unique_shortcode,
    staff_switches_turn_the_scim_service_and_job_title_sync_on_and_off,
    staff_create_an_admin_whose_one_time_password_must_be_changed_first,
    manage_entra_explains_that_the_module_is_off_and_refuses_a_token,
    the_secret_token_is_shown_once_and_regenerating_revokes_the_old_one,
    disconnecting_with_disable_all_stops_scim_and_disables_provisioned_people,
    disconnecting_without_disable_all_leaves_people_as_they_were,
    the_user_configuration_needs_a_passle_and_sets_up_new_people_on_exactly_the_chosen_ones,
    passles_are_created_and_renamed_with_unique_names,
    the_users_list_searches_filters_and_pages,
    a_person_page_shows_status_and_explanation_and_saves_role_and_passles,
    job_titles_are_editable_only_while_sync_is_off,
    an_admin_disables_and_enables_a_person_keeping_their_setup,
    a_person_added_by_hand_is_linked_when_entra_creates_the_same_email,
    the_activity_page_lists_events_newest_first_filters_failures_and_resets_the_badge,
    successes_only_pages_through_a_long_run_of_failures_a_stretch_at_a_time,
    a_stretch_that_reaches_the_first_event_offers_no_older_page,
    staff_see_each_status_counted_as_the_users_list_filters_it,
);

async fn signing_in_lands_each_kind_of_account_on_its_start_page(backend: Backend) {
    let app = spawn!(backend);
    let acme = create_company(&app, "a01", "Acme", true);
    create_account(&app, None, STAFF, PASSWORD, false);
    create_account(&app, Some(acme.company_id()), "admin@acme.example", PASSWORD, false);

    let staff = Portal::new(&app);
    let answer = staff.try_sign_in(STAFF, PASSWORD).await;
    assert_eq!((answer.status, answer.location()), (303, "/"), "{}", answer.describe());
    let home = staff.get("/").await;
    assert_eq!((home.status, home.location()), (303, "/staff/companies"));
    let companies = staff.get("/staff/companies").await;
    assert_eq!(companies.status, 200);
    assert!(companies.has("Acme"), "{}", companies.describe());

    let admin = Portal::new(&app);
    let answer = admin.try_sign_in("admin@acme.example", PASSWORD).await;
    assert_eq!((answer.status, answer.location()), (303, "/"));
    let home = admin.get("/").await;
    assert_eq!((home.status, home.location()), (303, "/c/a01/entra"));
    let entra = admin.get("/c/a01/entra").await;
    assert_eq!(entra.status, 200);
    assert!(entra.has("<h1>Manage Entra ID</h1>"));

    // Not signed in: a page sends to sign-in and back to where the person was going.
    let visitor = Portal::new(&app);
    assert_eq!(visitor.get("/").await.location(), "/sign-in");
    let asked = visitor.get("/c/a01/users?q=ines").await;
    assert_eq!((asked.status, asked.location()), (303, "/sign-in?next=%2Fc%2Fa01%2Fusers%3Fq%3Dines"));
    let form = visitor.get(asked.location()).await;
    assert_eq!(input_value(&form.body, "email"), Some(String::new()));
    let next = attr(tag_containing(&form.body, "name=\"next\"").unwrap(), "value");
    assert_eq!(next.as_deref(), Some("/c/a01/users?q=ines"));
    // The email is matched case-insensitively and `next` is followed.
    let answer = visitor.try_sign_in_to("Admin@ACME.example", PASSWORD, "/c/a01/users?q=ines").await;
    assert_eq!((answer.status, answer.location()), (303, "/c/a01/users?q=ines"));

    // Only local paths are followed (no open redirect).
    for evil in ["//evil.example/x", "https://evil.example/", "/\\evil.example"] {
        let other = Portal::new(&app);
        let answer = other.try_sign_in_to(STAFF, PASSWORD, evil).await;
        assert_eq!((answer.status, answer.location()), (303, "/"), "next={evil}");
    }
}

async fn a_wrong_password_and_an_unknown_email_get_the_same_401_page(backend: Backend) {
    let app = spawn!(backend);
    create_account(&app, None, STAFF, PASSWORD, false);
    let portal = Portal::new(&app);

    let wrong = portal.try_sign_in(STAFF, "not the right password").await;
    let unknown = portal.try_sign_in("nobody@entrada.example", PASSWORD).await;
    assert_eq!(wrong.status, 401, "{}", wrong.describe());
    assert_eq!(unknown.status, 401, "{}", unknown.describe());
    assert!(wrong.has("The email or password is not correct."), "{}", wrong.describe());
    // Apart from the echoed email, both pages are identical: nothing tells whether the
    // account exists.
    assert_eq!(wrong.body.replace(STAFF, "EMAIL"), unknown.body.replace("nobody@entrada.example", "EMAIL"));
    assert_eq!(input_value(&wrong.body, "email").as_deref(), Some(STAFF), "the email stays filled in");
    assert!(wrong.set_cookie("entrada_session").is_none() && unknown.set_cookie("entrada_session").is_none());
    assert_eq!(portal.get("/staff/companies").await.status, 303, "still signed out");
}

async fn five_failures_lock_an_account_even_against_the_right_password(backend: Backend) {
    let app = spawn!(backend);
    create_account(&app, None, STAFF, PASSWORD, false);
    create_account(&app, None, "other@entrada.example", PASSWORD, false);
    let portal = Portal::new(&app);

    for attempt in 1..=5 {
        let answer = portal.try_sign_in(STAFF, &format!("wrong password {attempt}")).await;
        assert_eq!(answer.status, 401, "attempt {attempt}: {}", answer.describe());
    }
    let locked = portal.try_sign_in(STAFF, PASSWORD).await;
    assert_eq!(locked.status, 429, "{}", locked.describe());
    assert!(locked.has("Too many failed sign-in attempts. Wait 15 minutes, then try again."), "{}", locked.describe());
    assert!(locked.set_cookie("entrada_session").is_none());
    // Also with another spelling of the same address.
    assert_eq!(portal.try_sign_in("CS@Entrada.Example", PASSWORD).await.status, 429);

    // The lock is per account: another account signs in from the same client.
    let other = Portal::new(&app);
    let answer = other.try_sign_in("other@entrada.example", PASSWORD).await;
    assert_eq!(answer.status, 303, "{}", answer.describe());

    // An unknown address is locked the same way (the lock tells nothing either).
    for _ in 1..=5 {
        assert_eq!(portal.try_sign_in("ghost@entrada.example", PASSWORD).await.status, 401);
    }
    assert_eq!(portal.try_sign_in("ghost@entrada.example", PASSWORD).await.status, 429);
}

async fn the_sign_in_form_refuses_a_missing_or_foreign_csrf_token(backend: Backend) {
    let app = spawn!(backend);
    create_account(&app, None, STAFF, PASSWORD, false);
    let portal = Portal::new(&app);
    let form = portal.get("/sign-in").await;
    assert!(form.set_cookie("entrada_csrf").is_some(), "the form sets its double-submit cookie");
    let good = csrf_in(&form.body);
    assert!(good.len() >= 32);
    let foreign = csrf_in(&Portal::new(&app).get("/sign-in").await.body);
    assert_ne!(good, foreign);

    let cases: [(&str, Vec<(&str, &str)>); 4] = [
        ("no token", vec![]),
        ("empty token", vec![("csrf_token", "")]),
        ("wrong token", vec![("csrf_token", "0123456789abcdefghijABCDEFGHIJ0123")]),
        ("another browser's token", vec![("csrf_token", foreign.as_str())]),
    ];
    for (case, extra) in cases {
        let mut fields = vec![("email", STAFF), ("password", PASSWORD)];
        fields.extend(extra);
        let answer = portal.post("/sign-in", &fields).await;
        assert_eq!(answer.status, 403, "{case}: {}", answer.describe());
        assert!(answer.has("This form expired or did not come from this site"), "{case}: {}", answer.describe());
        assert!(answer.set_cookie("entrada_session").is_none(), "{case}");
    }
    // A client without the cookie cannot sign in with a copied token either.
    let cookieless = Portal::new(&app);
    assert_eq!(cookieless.post("/sign-in", &[("email", STAFF), ("password", PASSWORD), ("csrf_token", &good)]).await.status, 403);
    // None of these counted as failed attempts; the real form still works.
    let answer = portal.post("/sign-in", &[("email", STAFF), ("password", PASSWORD), ("csrf_token", &good)]).await;
    assert_eq!((answer.status, answer.location()), (303, "/"), "{}", answer.describe());
}

async fn signing_out_ends_the_session_and_the_old_cookie_stops_working(backend: Backend) {
    let app = spawn!(backend);
    create_account(&app, None, STAFF, PASSWORD, false);
    let portal = Portal::new(&app);
    let answer = portal.try_sign_in(STAFF, PASSWORD).await;
    let cookie = answer.cookie("entrada_session").expect("session cookie");
    let raw = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let with_cookie = |value: String| {
        let request = raw.get(app.url("/staff/companies")).header("Cookie", format!("entrada_session={value}"));
        async move { request.send().await.unwrap() }
    };
    assert_eq!(with_cookie(cookie.clone()).await.status(), 200, "the cookie alone is the session");

    // Signing out is a form with the CSRF token; without it nothing happens.
    let refused = portal.post("/sign-out", &[]).await;
    assert_eq!(refused.status, 403, "{}", refused.describe());
    assert_eq!(portal.get("/staff/companies").await.status, 200);

    let out = portal.form("/sign-out", &[]).await;
    assert_eq!((out.status, out.location()), (303, "/sign-in"), "{}", out.describe());
    let removal = out.set_cookie("entrada_session").expect("the cookie is removed");
    assert!(removal.starts_with("entrada_session=;"), "{removal}");
    let next = portal.get("/staff/companies").await;
    assert_eq!((next.status, next.location()), (303, "/sign-in?next=%2Fstaff%2Fcompanies"));
    // The server forgot the session: replaying the old cookie does not work.
    let replay = with_cookie(cookie).await;
    assert_eq!(replay.status(), 303);
    assert_eq!(replay.headers()["location"], "/sign-in?next=%2Fstaff%2Fcompanies");
    let left: i64 = sessions::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(left, 0);
}

async fn a_session_is_stored_in_the_database_only_as_a_digest_of_its_cookie(backend: Backend) {
    let app = spawn!(backend);
    let account = create_account(&app, None, STAFF, PASSWORD, false);
    let portal = Portal::new(&app);
    let answer = portal.try_sign_in(STAFF, PASSWORD).await;
    let line = answer.set_cookie("entrada_session").unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(line.contains(attribute), "{attribute} missing in {line}");
    }
    let cookie = answer.cookie("entrada_session").unwrap();
    assert!(cookie.len() >= 32, "{cookie}");

    let rows: Vec<(String, i64, String)> =
        sessions::table.select((sessions::token_digest, sessions::account_id, sessions::csrf_token)).load(&mut app.conn()).unwrap();
    assert_eq!(rows.len(), 1);
    let (digest, owner, csrf) = &rows[0];
    assert_eq!(*owner, account.id);
    assert_eq!(*digest, entrada::domain::sha256_hex(cookie.as_bytes()));
    assert!(!digest.contains(&cookie));
    assert_eq!(*csrf, portal.csrf(), "the pages carry the session's CSRF token");
    assert_ne!(*csrf, cookie);

    // A second browser gets a second, different session.
    let second = Portal::new(&app);
    let other = second.try_sign_in(STAFF, PASSWORD).await.cookie("entrada_session").unwrap();
    assert_ne!(other, cookie);
    let digests: Vec<String> = sessions::table.select(sessions::token_digest).load(&mut app.conn()).unwrap();
    assert_eq!(digests.len(), 2);
    assert!(digests.contains(&entrada::domain::sha256_hex(other.as_bytes())));
    assert_ne!(second.csrf(), portal.csrf());
}

async fn changing_the_password_checks_the_current_one_and_the_confirmation(backend: Backend) {
    let app = spawn!(backend);
    create_account(&app, None, STAFF, PASSWORD, false);
    let portal = Portal::new(&app);
    portal.sign_in(STAFF, PASSWORD).await;
    let elsewhere = Portal::new(&app);
    elsewhere.sign_in(STAFF, PASSWORD).await;

    let form = portal.get("/account/password").await;
    assert_eq!(form.status, 200);
    assert!(form.has("Change your password"));
    assert!(!form.has("one-time password"), "only for accounts that must change it");

    let cases = [
        ("not my password", NEW_PASSWORD, NEW_PASSWORD, "The current password is not correct."),
        (PASSWORD, NEW_PASSWORD, "a much better passphrasE", "The two new passwords differ."),
        (PASSWORD, "short", "short", "password must be at least 10 characters"),
    ];
    for (current, new, confirm, message) in cases {
        let answer = portal.form("/account/password", &[("current", current), ("new", new), ("confirm", confirm)]).await;
        assert_eq!(answer.status, 422, "{message}: {}", answer.describe());
        assert!(answer.has(message), "{message}: {}", answer.describe());
    }
    let no_csrf = portal.post("/account/password", &[("current", PASSWORD), ("new", NEW_PASSWORD), ("confirm", NEW_PASSWORD)]).await;
    assert_eq!(no_csrf.status, 403);

    let done = portal.form("/account/password", &[("current", PASSWORD), ("new", NEW_PASSWORD), ("confirm", NEW_PASSWORD)]).await;
    assert_eq!(done.status, 200, "{}", done.describe());
    assert!(done.has("Your password has been changed. Other sessions were signed out."));
    assert_eq!(portal.get("/staff/companies").await.status, 200, "this session stays");
    assert_eq!(elsewhere.get("/staff/companies").await.status, 303, "other sessions end");

    assert_eq!(Portal::new(&app).try_sign_in(STAFF, PASSWORD).await.status, 401);
    assert_eq!(Portal::new(&app).try_sign_in(STAFF, NEW_PASSWORD).await.status, 303);
}

async fn staff_see_every_company_and_can_search_by_name_or_shortcode(backend: Backend) {
    let app = spawn!(backend);
    create_company(&app, "c03", "Cobalt Media", false);
    create_company(&app, "a01", "Acme Corp", true);
    create_company(&app, "b02", "Beta Industries", false);
    let staff = staff_portal(&app).await;

    let all = staff.get("/staff/companies").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.body.matches("<td><code>").count(), 3);
    let (a, b, c) = (all.body.find("Acme Corp").unwrap(), all.body.find("Beta Industries").unwrap(), all.body.find("Cobalt Media").unwrap());
    assert!(a < b && b < c, "sorted by name");
    assert_eq!(all.body.matches("<td>Enabled</td>").count(), 1, "only Acme has the Entra ID module");
    assert!(all.body.contains("href=\"/staff/companies/a01\""));

    for (term, expected) in [("ACME", "Acme Corp"), ("b02", "Beta Industries"), ("media", "Cobalt Media")] {
        let found = staff.get(&format!("/staff/companies?q={term}")).await;
        assert_eq!(found.status, 200);
        assert_eq!(found.body.matches("<td><code>").count(), 1, "search {term}: {}", found.describe());
        assert!(found.has(expected), "search {term}");
        assert_eq!(input_value(&found.body, "q").as_deref(), Some(term), "the search stays in the box");
    }
    for term in ["nothing", "%", "_"] {
        let none = staff.get(&format!("/staff/companies?{}", serde_urlencoded::to_string([("q", term)]).unwrap())).await;
        assert_eq!(none.body.matches("<td><code>").count(), 0, "search {term}: {}", none.describe());
        assert!(none.has(&format!("No company matches “{term}”")), "search {term}");
    }
}

async fn staff_create_a_company_with_a_valid_unique_shortcode(backend: Backend) {
    let app = spawn!(backend);
    let staff = staff_portal(&app).await;
    let form = staff.get("/staff/companies/new").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"shortcode\""));

    let bad = staff.form("/staff/companies", &[("name", "Acme"), ("shortcode", "A-1")]).await;
    assert_eq!(bad.status, 422, "{}", bad.describe());
    assert!(bad.has("shortcode \"A-1\" may contain only lowercase letters and digits"), "{}", bad.describe());
    assert_eq!(input_value(&bad.body, "shortcode").as_deref(), Some("A-1"), "the form keeps what was typed");
    assert_eq!(input_value(&bad.body, "name").as_deref(), Some("Acme"));

    let both = staff.form("/staff/companies", &[("name", "  "), ("shortcode", "a")]).await;
    assert_eq!(both.status, 422);
    assert!(both.has("company name is required"), "{}", both.describe());
    assert!(both.has("must be 2 to 16 characters long"), "{}", both.describe());

    assert_eq!(staff.post("/staff/companies", &[("name", "Acme"), ("shortcode", "a01")]).await.status, 403, "CSRF");
    let count: i64 = companies::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(count, 0);

    let created = staff.form("/staff/companies", &[("name", " Acme "), ("shortcode", "a01")]).await;
    assert_eq!((created.status, created.location()), (303, "/staff/companies/a01?notice=created"), "{}", created.describe());
    let page = staff.get(created.location()).await;
    assert_eq!(page.status, 200);
    assert!(page.has("Company created."));
    assert!(page.has("Acme <span class=\"muted\">(a01)</span>"), "{}", page.describe());
    assert!(page.has("Entra ID module:</strong> off"), "new companies start with the module off");

    let duplicate = staff.form("/staff/companies", &[("name", "Another"), ("shortcode", "a01")]).await;
    assert_eq!(duplicate.status, 422, "{}", duplicate.describe());
    assert!(duplicate.has("shortcode a01 is already taken"), "{}", duplicate.describe());

    let rows: Vec<(String, String, bool)> =
        companies::table.select((companies::shortcode, companies::name, companies::entra_enabled)).load(&mut app.conn()).unwrap();
    assert_eq!(rows, [("a01".to_owned(), "Acme".to_owned(), false)]);
}

async fn staff_switches_turn_the_scim_service_and_job_title_sync_on_and_off(backend: Backend) {
    let app = spawn!(backend);
    let staff = staff_portal(&app).await;
    assert_eq!(staff.form("/staff/companies", &[("name", "Acme"), ("shortcode", "a01")]).await.status, 303);

    // Module off: no token can be generated.
    let refused = staff.form("/c/a01/entra/token", &[]).await;
    assert_eq!(refused.status, 400, "{}", refused.describe());
    assert!(refused.has("The Entra ID module is not enabled for this company"));

    async fn switch(staff: &Portal, setting: &str, on: &str) -> Page {
        staff.form("/staff/companies/a01/settings", &[("setting", setting), ("enabled", on)]).await
    }
    let toggle = |setting: &'static str, on: &'static str| switch(&staff, setting, on);
    let on = toggle("entra", "true").await;
    assert_eq!((on.status, on.location()), (303, "/staff/companies/a01?notice=saved"));
    let page = staff.get(on.location()).await;
    assert!(page.has("Saved."));
    assert!(page.has("<strong>Entra ID module:</strong> enabled"), "{}", page.describe());
    assert!(page.has("Disable Entra ID module"));

    let token = generate_token(&staff, "a01").await;
    let scim = app.scim_with_token("a01", &token);
    assert_eq!(scim.get("/Users").await.status, 200);

    assert_eq!(toggle("entra", "false").await.status, 303);
    let off = scim.get("/Users").await;
    assert_eq!(off.status, 403, "{}", off.body);
    assert!(off.body["detail"].as_str().unwrap().contains("not enabled"), "{}", off.body);
    assert!(staff.get("/staff/companies/a01").await.has("<strong>Entra ID module:</strong> off"));
    assert_eq!(toggle("entra", "true").await.status, 303);
    assert_eq!(scim.get("/Users").await.status, 200, "switching back on keeps the token");

    assert_eq!(toggle("job_title_sync", "true").await.status, 303);
    let synced: bool = companies::table.select(companies::job_title_sync).first(&mut app.conn()).unwrap();
    assert!(synced);
    assert!(staff.get("/staff/companies/a01").await.has("<strong>Job-title sync:</strong> enabled"));
    scim.create_user("on@acme.example").await;
    let title: Option<String> = users::table.filter(users::user_name_lower.eq("on@acme.example")).select(users::job_title).first(&mut app.conn()).unwrap();
    assert_eq!(title.as_deref(), Some("Site Lead"));

    assert_eq!(toggle("job_title_sync", "false").await.status, 303);
    scim.create_user("off@acme.example").await;
    let title: Option<String> = users::table.filter(users::user_name_lower.eq("off@acme.example")).select(users::job_title).first(&mut app.conn()).unwrap();
    assert_eq!(title, None);

    assert_eq!(toggle("bogus", "true").await.status, 400);
    assert_eq!(staff.form("/staff/companies/zz99/settings", &[("setting", "entra"), ("enabled", "true")]).await.status, 404);
    assert_eq!(staff.post("/staff/companies/a01/settings", &[("setting", "entra"), ("enabled", "false")]).await.status, 403, "CSRF");
    assert_eq!(scim.get("/Users").await.status, 200);
}

async fn staff_create_an_admin_whose_one_time_password_must_be_changed_first(backend: Backend) {
    let app = spawn!(backend);
    let acme = create_company(&app, "a01", "Acme", true);
    let staff = staff_portal(&app).await;

    let bad = staff.form("/staff/companies/a01/admins", &[("email", "not-an-email")]).await;
    assert_eq!(bad.status, 422, "{}", bad.describe());
    assert!(bad.has("\"not-an-email\" is not an email address"), "{}", bad.describe());

    let created = staff.form("/staff/companies/a01/admins", &[("email", "Admin@Acme.example")]).await;
    assert_eq!(created.status, 200, "{}", created.describe());
    assert!(created.has("Admin account Admin@Acme.example created."), "{}", created.describe());
    let one_time = input_value(&created.body, "one-time-password").expect("one-time password shown");
    assert_eq!(one_time.len(), 16);
    assert!(one_time.chars().all(|c| c.is_ascii_alphanumeric()));

    let later = staff.get("/staff/companies/a01").await;
    assert!(!later.body.contains(&one_time), "shown once only");
    assert!(later.has("Admin@Acme.example <span class=\"muted\">(has not signed in yet)</span>"), "{}", later.describe());

    let duplicate = staff.form("/staff/companies/a01/admins", &[("email", "admin@acme.example")]).await;
    assert_eq!(duplicate.status, 422);
    assert!(duplicate.has("an account with email admin@acme.example already exists"), "{}", duplicate.describe());
    assert!(input_value(&duplicate.body, "one-time-password").is_none());

    let (company, must_change, hash): (Option<i64>, bool, String) = accounts::table
        .filter(accounts::email_lower.eq("admin@acme.example"))
        .select((accounts::company_id, accounts::must_change_password, accounts::password_hash))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(company, Some(acme.id));
    assert!(must_change);
    assert!(hash.starts_with("$argon2id$") && !hash.contains(&one_time));

    let admin = Portal::new(&app);
    let answer = admin.try_sign_in("admin@acme.example", &one_time).await;
    assert_eq!(answer.status, 303, "{}", answer.describe());
    for page in ["/c/a01/entra", "/c/a01/users", "/c/a01/passles"] {
        let forced = admin.get(page).await;
        assert_eq!((forced.status, forced.location()), (303, "/account/password"), "{page}");
    }
    let form = admin.get("/account/password").await;
    assert!(form.has("You signed in with a one-time password. Choose your own password to continue."));
    let changed = admin.form("/account/password", &[("current", &one_time), ("new", NEW_PASSWORD), ("confirm", NEW_PASSWORD)]).await;
    assert_eq!(changed.status, 200, "{}", changed.describe());
    assert_eq!(admin.get("/c/a01/entra").await.status, 200);
    assert!(!staff.get("/staff/companies/a01").await.has("has not signed in yet"));
    assert_eq!(Portal::new(&app).try_sign_in("admin@acme.example", &one_time).await.status, 401, "the one-time password is gone");
}

async fn manage_entra_explains_that_the_module_is_off_and_refuses_a_token(backend: Backend) {
    let app = spawn!(backend);
    let acme = create_company(&app, "a01", "Acme", false);
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;

    let page = admin.get("/c/a01/entra").await;
    assert_eq!(page.status, 200);
    assert!(page.has("The Entra ID module is not enabled"), "{}", page.describe());
    assert!(page.has("Ask Client Success to enable the Entra ID module"));
    assert!(!page.has("Generate secret token"));
    assert!(!page.body.contains("id=\"tenant-url\""));

    let refused = admin.form("/c/a01/entra/token", &[]).await;
    assert_eq!(refused.status, 400);
    assert!(refused.has("The Entra ID module is not enabled for this company. Client Success must enable it first."), "{}", refused.describe());
    let tokens: i64 = scim_tokens::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(tokens, 0);
}

async fn the_secret_token_is_shown_once_and_regenerating_revokes_the_old_one(backend: Backend) {
    let app = spawn!(backend);
    let acme = create_company(&app, "a01", "Acme", true);
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;

    let before = admin.get("/c/a01/entra").await;
    assert!(before.has("Not connected."), "{}", before.describe());
    assert!(before.has("Generate secret token"));
    assert_eq!(input_value(&before.body, "tenant-url"), Some(app.url("/scim/a01/v2")));
    assert!(input_value(&before.body, "secret-token").is_none());

    let shown = admin.form("/c/a01/entra/token", &[]).await;
    assert_eq!(shown.status, 200, "{}", shown.describe());
    assert_eq!(shown.headers["cache-control"], "no-store");
    assert!(shown.has("It is shown only this once"));
    let token = input_value(&shown.body, "secret-token").unwrap();
    let parts: Vec<&str> = token.split('-').collect();
    assert_eq!(parts.len(), 4, "{token}");
    assert_eq!(parts[0], "a01");
    assert_eq!([parts[1].len(), parts[2].len(), parts[3].len()], [7, 7, 8]);
    assert!(parts[1..].iter().all(|p| p.chars().all(|c| c.is_ascii_alphanumeric())));

    let later = admin.get("/c/a01/entra").await;
    assert!(!later.body.contains(&token), "never shown again");
    assert!(later.has(&format!("Secret token ending <code>…{}</code>", &token[token.len() - 4..])), "{}", later.describe());
    assert!(later.has("Regenerate secret token"));
    let stored: Vec<(String, String)> = scim_tokens::table.select((scim_tokens::token_digest, scim_tokens::last4)).load(&mut app.conn()).unwrap();
    assert_eq!(stored, [(entrada::domain::sha256_hex(token.as_bytes()), token[token.len() - 4..].to_owned())]);

    let scim = app.scim_with_token("a01", &token);
    let users = scim.get("/Users").await;
    assert_eq!(users.status, 200, "{}", users.body);
    assert_eq!(users.body["totalResults"], 0);

    let renewed = generate_token(&admin, "a01").await;
    assert_ne!(renewed, token);
    let old = scim.get("/Users").await;
    assert_eq!(old.status, 401, "{}", old.body);
    assert_eq!(old.header("www-authenticate").map(|h| h.starts_with("Bearer")), Some(true));
    assert_eq!(app.scim_with_token("a01", &renewed).get("/Users").await.status, 200);
}

async fn disconnecting_with_disable_all_stops_scim_and_disables_provisioned_people(backend: Backend) {
    let app = spawn!(backend);
    let acme = create_company(&app, "a01", "Acme", true);
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;
    let scim = app.scim_with_token("a01", &generate_token(&admin, "a01").await);
    let ines = scim.create_user("ines@acme.example").await;
    let marc = scim.create_user("marc@acme.example").await;
    let added = admin.form("/c/a01/users", &[("email", "hand@acme.example"), ("given_name", "Hand"), ("family_name", "Made")]).await;
    assert_eq!(added.status, 303, "{}", added.describe());

    let out = admin.form("/c/a01/entra/disconnect", &[("disable_all", "yes")]).await;
    assert_eq!((out.status, out.location()), (303, "/c/a01/entra?notice=disconnected-disabled"), "{}", out.describe());
    let page = admin.get(out.location()).await;
    assert!(page.has("Disconnected, and everyone this connection provisioned is disabled."), "{}", page.describe());
    assert!(page.has("Not connected."));

    let refused = scim.get("/Users").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body["detail"].as_str().unwrap().contains("disconnected"), "{}", refused.body);

    let scim = app.scim_with_token("a01", &generate_token(&admin, "a01").await);
    for id in [&ines, &marc] {
        let read = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(read.status, 200);
        assert_eq!(read.body["active"], false, "{}", read.body);
    }
    let by_hand: Option<bool> = users::table.filter(users::user_name_lower.eq("hand@acme.example")).select(users::scim_active).first(&mut app.conn()).unwrap();
    assert_eq!(by_hand, None, "people added by hand are not Entra's to disable");
    let disabled = admin.get("/c/a01/users?status=disabled").await;
    assert!(disabled.has("2 people"), "{}", disabled.describe());
    assert!(!disabled.has("hand@acme.example"));
    let details: Vec<String> = activity::table.filter(activity::operation.eq("disconnect")).select(activity::detail).load(&mut app.conn()).unwrap();
    assert_eq!(details, ["secret token revoked; 2 Entra-provisioned people disabled"]);
}

async fn disconnecting_without_disable_all_leaves_people_as_they_were(backend: Backend) {
    let app = spawn!(backend);
    let acme = create_company(&app, "a01", "Acme", true);
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;
    let scim = app.scim_with_token("a01", &generate_token(&admin, "a01").await);
    let ines = scim.create_user("ines@acme.example").await;

    let out = admin.form("/c/a01/entra/disconnect", &[]).await;
    assert_eq!((out.status, out.location()), (303, "/c/a01/entra?notice=disconnected"));
    assert!(admin.get(out.location()).await.has("Disconnected: the secret token no longer works"));
    assert_eq!(scim.get("/Users").await.status, 403);

    let scim = app.scim_with_token("a01", &generate_token(&admin, "a01").await);
    assert_eq!(scim.get(&format!("/Users/{ines}")).await.body["active"], true);
}

async fn the_user_configuration_needs_a_passle_and_sets_up_new_people_on_exactly_the_chosen_ones(backend: Backend) {
    let app = spawn!(backend);
    let acme = create_company(&app, "a01", "Acme", true);
    let news = add_passle(&app, &acme, "News");
    let insights = add_passle(&app, &acme, "Insights");
    let events = add_passle(&app, &acme, "Events");
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;
    let page = admin.get("/c/a01/entra").await;
    assert!(is_checked(&page.body, "mode", "none"), "the default is no role and no Passle");

    let none_chosen = admin.form("/c/a01/entra/configuration", &[("mode", "selected_passles")]).await;
    assert_eq!(none_chosen.status, 422, "{}", none_chosen.describe());
    assert!(none_chosen.has("Choose at least one Passle, or pick another option."));
    assert!(is_checked(&none_chosen.body, "mode", "selected_passles"), "the choice is kept for correction");
    let no_mode = admin.form("/c/a01/entra/configuration", &[("passle", &news.to_string())]).await;
    assert_eq!(no_mode.status, 422);
    assert!(no_mode.has("Choose one of the three options."));
    assert_eq!(company_row(&app, "a01").provisioning_mode, "none", "nothing saved");

    let (news_s, events_s) = (news.to_string(), events.to_string());
    let saved = admin.form("/c/a01/entra/configuration", &[("mode", "selected_passles"), ("passle", &news_s), ("passle", &events_s)]).await;
    assert_eq!((saved.status, saved.location()), (303, "/c/a01/entra?notice=saved"), "{}", saved.describe());
    let page = admin.get(saved.location()).await;
    assert!(page.has("User configuration saved. It applies to people Entra creates from now on."));
    assert!(is_checked(&page.body, "mode", "selected_passles"));
    assert!(is_checked(&page.body, "passle", &news_s) && is_checked(&page.body, "passle", &events_s));
    assert!(!is_checked(&page.body, "passle", &insights.to_string()));

    let scim = app.scim_with_token("a01", &generate_token(&admin, "a01").await);
    scim.create_user("ines@acme.example").await;
    let ines = person_id(&app, "ines@acme.example");
    let cc = Role::ContentCreator.as_str().to_owned();
    assert_eq!(
        assignments_of(&app, ines),
        sorted(vec![news, events]).into_iter().map(|p| (p, cc.clone(), "configuration".to_owned())).collect::<Vec<_>>()
    );
    let role: Option<String> = users::table.find(ines).select(users::role).first(&mut app.conn()).unwrap();
    assert_eq!(role.as_deref(), Some("content_creator"));

    // A later change applies to new people only.
    assert_eq!(admin.form("/c/a01/entra/configuration", &[("mode", "none")]).await.status, 303);
    scim.create_user("marc@acme.example").await;
    assert!(assignments_of(&app, person_id(&app, "marc@acme.example")).is_empty());
    assert_eq!(assignments_of(&app, ines).len(), 2);
}

async fn passles_are_created_and_renamed_with_unique_names(backend: Backend) {
    let app = spawn!(backend);
    let acme = create_company(&app, "a01", "Acme", true);
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;
    assert!(admin.get("/c/a01/passles").await.has("No Passle yet."));

    let created = admin.form("/c/a01/passles", &[("name", "News")]).await;
    assert_eq!((created.status, created.location()), (303, "/c/a01/passles?saved=1"), "{}", created.describe());
    let list = admin.get(created.location()).await;
    assert!(list.has("Saved."));
    assert!(list.has("<td>News</td>"), "{}", list.describe());

    let duplicate = admin.form("/c/a01/passles", &[("name", "  news ")]).await;
    assert_eq!(duplicate.status, 422, "{}", duplicate.describe());
    assert!(duplicate.has("a Passle named \"news\" already exists"), "{}", duplicate.describe());
    let empty = admin.form("/c/a01/passles", &[("name", "   ")]).await;
    assert_eq!(empty.status, 422);
    assert!(empty.has("Passle name is required"));
    assert_eq!(admin.form("/c/a01/passles", &[("name", "Events")]).await.status, 303);

    let news: i64 = passles::table.filter(passles::name.eq("News")).select(passles::id).first(&mut app.conn()).unwrap();
    let renamed = admin.form(&format!("/c/a01/passles/{news}"), &[("name", "Newsroom")]).await;
    assert_eq!((renamed.status, renamed.location()), (303, "/c/a01/passles?saved=1"));
    let taken = admin.form(&format!("/c/a01/passles/{news}"), &[("name", "EVENTS")]).await;
    assert_eq!(taken.status, 422, "{}", taken.describe());
    assert!(taken.has("a Passle named \"EVENTS\" already exists"), "{}", taken.describe());
    assert_eq!(admin.form("/c/a01/passles/999999", &[("name", "Ghost")]).await.status, 404);
    assert_eq!(admin.post(&format!("/c/a01/passles/{news}"), &[("name", "No CSRF")]).await.status, 403);

    let names: Vec<String> = passles::table.order(passles::name).select(passles::name).load(&mut app.conn()).unwrap();
    assert_eq!(names, ["Events", "Newsroom"]);
}

async fn the_users_list_searches_filters_and_pages(backend: Backend) {
    let app = spawn!(backend);
    let acme = create_company(&app, "a01", "Acme", true);
    let news = add_passle(&app, &acme, "News");
    // 60 people: p00…p59; every tenth added by hand; the first 20 active (role + Passle).
    for i in 0..60 {
        let source = if i % 10 == 0 { "manual" } else { "entra" };
        let id = add_person(&app, &acme, &format!("p{i:02}@acme.example"), &format!("Person{i:02}"), source);
        if i < 20 {
            let mut conn = app.conn();
            User::set_role(&mut conn, acme.company_id(), id, Some("editor")).unwrap();
            Assignment::grant(&mut conn, acme.company_id(), id, &[news], Role::Editor, "manual").unwrap();
        }
    }
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;
    let rows = |page: &Page| page.body.matches("<span class=\"status status-").count();

    let first = admin.get("/c/a01/users").await;
    assert_eq!(first.status, 200);
    assert!(first.has("60 people"), "{}", first.describe());
    assert!(first.has("Page 1 of 2"));
    assert_eq!(rows(&first), 50);
    assert!(first.body.contains("p00@acme.example") && first.body.contains("p49@acme.example") && !first.body.contains("p50@acme.example"));
    assert!(!first.has("← Previous"));
    let next = link_to(&first.body, "Next →").expect("a link to page 2");
    let second = admin.get(&next).await;
    assert!(second.has("Page 2 of 2"), "{next}: {}", second.text().split("<main").nth(1).unwrap_or_default());
    assert_eq!(rows(&second), 10);
    assert!(second.body.contains("p50@acme.example") && second.body.contains("p59@acme.example"));
    assert!(link_to(&second.body, "← Previous").is_some() && link_to(&second.body, "Next →").is_none());

    let count = |query: &'static str| {
        let admin = &admin;
        async move {
            let page = admin.get(&format!("/c/a01/users?{query}")).await;
            assert_eq!(page.status, 200, "{query}");
            (rows(&page), page)
        }
    };
    let (n, page) = count("q=p07%40").await;
    assert_eq!(n, 1, "{}", page.describe());
    assert!(page.has("p07@acme.example") && page.has("1 person"));
    let (n, page) = count("q=PERSON42").await;
    assert_eq!(n, 1, "search is case-insensitive on names");
    assert!(page.has("p42@acme.example"));
    assert_eq!(input_value(&page.body, "q").as_deref(), Some("PERSON42"));
    assert_eq!(count("q=nobody").await.1.has("Nobody matches."), true);
    let (n, page) = count("status=active").await;
    assert_eq!(n, 20, "{}", page.describe());
    assert_eq!(page.body.matches("status-active\">Active<").count(), 20);
    assert!(page.has("<option value=\"active\" selected>Active</option>"), "the filter stays chosen");
    assert_eq!(count("status=pending").await.0, 40);
    assert_eq!(count("source=manual").await.0, 6);
    assert_eq!(count("source=entra&status=active").await.0, 18);
    let (n, page) = count("q=p1&status=active&source=entra").await;
    assert_eq!(n, 9, "p11…p19: {}", page.describe());

    // Paging keeps the filters.
    let (n, entra) = count("source=entra").await;
    assert_eq!(n, 50);
    assert!(entra.has("54 people") && entra.has("Page 1 of 2"));
    let next = link_to(&entra.body, "Next →").unwrap();
    assert!(next.contains("source=entra") && next.contains("page=2"), "{next}");
    let rest = admin.get(&next).await;
    assert_eq!(rows(&rest), 4);
    assert!(!rest.body.contains("p50@acme.example"), "p50 was added by hand");
}

async fn a_person_page_shows_status_and_explanation_and_saves_role_and_passles(backend: Backend) {
    let app = spawn!(backend);
    let scim: Scim = app.scim_company("a01");
    let acme = company_row(&app, "a01");
    let (news, events) = (add_passle(&app, &acme, "News"), add_passle(&app, &acme, "Events"));
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;
    let scim_id = scim.create_user("ines@acme.example").await;
    let id = person_id(&app, "ines@acme.example");
    let path = format!("/c/a01/users/{id}");

    let page = admin.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.has("<h1>Given ines</h1>"), "{}", page.describe());
    assert!(page.has("status-pending\">Pending assignment</span>"), "{}", page.describe());
    assert!(page.has("Needs a role on at least one Passle (set below, or through a mapped group) before they can work in the product."));
    // Passles without a role are refused: every assignment carries a role.
    let no_role = admin.form(&format!("{path}/access"), &[("role", ""), ("passle", &news.to_string())]).await;
    assert_eq!(no_role.status, 422, "{}", no_role.describe());
    assert!(no_role.has("Choose a role to put this person on Passles"));
    assert!(assignments_of(&app, id).is_empty());
    assert!(page.has("Managed by Entra ID"));
    assert!(page.has("\"employeeNumber\": \"E-20931\""), "the SCIM attributes are shown");

    let (news_s, events_s) = (news.to_string(), events.to_string());
    let saved = admin.form(&format!("{path}/access"), &[("role", "editor"), ("passle", &news_s)]).await;
    assert_eq!((saved.status, saved.location()), (303, format!("{path}?notice=saved").as_str()), "{}", saved.describe());
    let page = admin.get(saved.location()).await;
    assert!(page.has("Saved."));
    assert!(page.has("status-active\">Active</span>"), "{}", page.describe());
    assert!(page.has("Enabled in Entra ID, with a role on at least one Passle."));
    assert!(page.has("<option value=\"editor\" selected>Editor</option>"));
    assert!(is_checked(&page.body, "passle", &news_s) && !is_checked(&page.body, "passle", &events_s));
    assert!(page.has("Editor (set by an admin)"));
    assert_eq!(assignments_of(&app, id), [(news, "editor".to_owned(), "manual".to_owned())]);

    assert_eq!(admin.form(&format!("{path}/access"), &[("role", "content_creator"), ("passle", &events_s)]).await.status, 303);
    assert_eq!(assignments_of(&app, id), [(events, "content_creator".to_owned(), "manual".to_owned())]);
    let role: Option<String> = users::table.find(id).select(users::role).first(&mut app.conn()).unwrap();
    assert_eq!(role.as_deref(), Some("content_creator"));

    assert_eq!(admin.form(&format!("{path}/access"), &[("role", "")]).await.status, 303);
    assert!(assignments_of(&app, id).is_empty());
    assert!(admin.get(&path).await.has("Pending assignment"));
    assert_eq!(admin.form(&format!("{path}/access"), &[("role", "owner"), ("passle", &news_s)]).await.status, 400);
    assert!(assignments_of(&app, id).is_empty(), "a refused form changes nothing");

    // Disabled in Entra: the status says so and why.
    scim.patch(&format!("/Users/{scim_id}"), patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}]))).await;
    let page = admin.get(&path).await;
    assert!(page.has("status-disabled\">Disabled in Entra ID</span>"), "{}", page.describe());
    assert!(page.has("Entra ID set them inactive"));
    let ops: Vec<String> = activity::table.filter(activity::actor.eq("admin@acme.example")).order(activity::id).select(activity::operation).load(&mut app.conn()).unwrap();
    assert_eq!(ops, ["assign", "assign", "assign"]);
    assert_eq!(admin.get("/c/a01/users/999999").await.status, 404);
}

async fn job_titles_are_editable_only_while_sync_is_off(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let acme = company_row(&app, "a01");
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;
    scim.create_user("ines@acme.example").await;
    let id = person_id(&app, "ines@acme.example");
    let path = format!("/c/a01/users/{id}");
    let title = || -> Option<String> { users::table.find(id).select(users::job_title).first(&mut app.conn()).unwrap() };

    let page = admin.get(&path).await;
    assert!(page.body.contains("name=\"job_title\""));
    assert!(page.has("Entra ID sent “Site Lead” (not applied: job-title sync is off)."), "{}", page.describe());
    let saved = admin.form(&format!("{path}/title"), &[("job_title", "  Chief Editor ")]).await;
    assert_eq!((saved.status, saved.location()), (303, format!("{path}?notice=saved").as_str()));
    assert_eq!(title().as_deref(), Some("Chief Editor"));
    assert_eq!(input_value(&admin.get(&path).await.body, "job_title").as_deref(), Some("Chief Editor"));

    Company::set_job_title_sync(&mut app.conn(), acme.company_id(), true).unwrap();
    let page = admin.get(&path).await;
    assert!(!page.body.contains("name=\"job_title\""), "read-only while synced");
    assert!(page.has("Synced from Entra ID (read-only here)."));
    let refused = admin.form(&format!("{path}/title"), &[("job_title", "Forged")]).await;
    assert_eq!(refused.status, 409, "{}", refused.describe());
    assert!(refused.has("Job titles are synced from Entra ID for this company; change them there."));
    assert_eq!(title().as_deref(), Some("Chief Editor"));
}

async fn an_admin_disables_and_enables_a_person_keeping_their_setup(backend: Backend) {
    let app = spawn!(backend);
    let acme = create_company(&app, "a01", "Acme", true);
    let news = add_passle(&app, &acme, "News");
    let id = add_person(&app, &acme, "ines@acme.example", "Moreau", "manual");
    {
        let mut conn = app.conn();
        User::set_role(&mut conn, acme.company_id(), id, Some("editor")).unwrap();
        Assignment::grant(&mut conn, acme.company_id(), id, &[news], Role::Editor, "manual").unwrap();
    }
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;
    let path = format!("/c/a01/users/{id}");
    assert!(admin.get(&path).await.has("status-active\">Active</span>"));

    let off = admin.form(&format!("{path}/disabled"), &[("disabled", "true")]).await;
    assert_eq!((off.status, off.location()), (303, format!("{path}?notice=saved").as_str()));
    let page = admin.get(&path).await;
    assert!(page.has("status-disabled_by_admin\">Disabled by an admin</span>"), "{}", page.describe());
    assert!(page.has("An admin disabled them in the portal."));
    assert!(page.has("Enable in the portal"));
    assert_eq!(assignments_of(&app, id).len(), 1, "Passles are kept");
    assert!(admin.get("/c/a01/users?status=disabled_by_admin").await.has("1 person"));

    assert_eq!(admin.form(&format!("{path}/disabled"), &[("disabled", "false")]).await.status, 303);
    let page = admin.get(&path).await;
    assert!(page.has("status-active\">Active</span>"), "{}", page.describe());
    assert!(page.has("Disable in the portal"));
    let ops: Vec<String> = activity::table.order(activity::id).select(activity::operation).load(&mut app.conn()).unwrap();
    assert_eq!(ops, ["disable", "enable"]);
}

async fn a_person_added_by_hand_is_linked_when_entra_creates_the_same_email(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let acme = company_row(&app, "a01");
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;

    let form = admin.get("/c/a01/users/new").await;
    assert_eq!(form.status, 200);
    assert!(form.has("Add a person by hand"));
    let bad = admin.form("/c/a01/users", &[("email", "ines at acme"), ("given_name", "Ines"), ("family_name", "Moreau")]).await;
    assert_eq!(bad.status, 422, "{}", bad.describe());
    assert!(bad.has("\"ines at acme\" is not an email address"), "{}", bad.describe());
    assert_eq!(input_value(&bad.body, "given_name").as_deref(), Some("Ines"), "the form keeps what was typed");

    let added = admin.form("/c/a01/users", &[("email", "Ines.Moreau@acme.example"), ("given_name", "Ines"), ("family_name", "Moreau")]).await;
    assert_eq!(added.status, 303, "{}", added.describe());
    let id = person_id(&app, "ines.moreau@acme.example");
    assert_eq!(added.location(), format!("/c/a01/users/{id}?notice=created"));
    let page = admin.get(added.location()).await;
    assert!(page.has("Person added.") && page.has("<h1>Ines Moreau</h1>") && page.has("Added by hand"), "{}", page.describe());

    let duplicate = admin.form("/c/a01/users", &[("email", "ines.moreau@ACME.example")]).await;
    assert_eq!(duplicate.status, 422, "{}", duplicate.describe());
    assert!(duplicate.has("ines.moreau@ACME.example already belongs to a person of this company"), "{}", duplicate.describe());

    let created = scim.post("/Users", entra_user("ines.moreau@acme.example")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let rows: Vec<(i64, String)> = users::table.select((users::id, users::source)).load(&mut app.conn()).unwrap();
    assert_eq!(rows, [(id, "entra".to_owned())], "the same row, now linked to Entra");
    let scim_id: String = users::table.find(id).select(users::scim_id).first(&mut app.conn()).unwrap();
    assert_eq!(created.body["id"], scim_id.as_str());
    assert!(admin.get(&format!("/c/a01/users/{id}")).await.has("Managed by Entra ID"));
}

async fn the_activity_page_lists_events_newest_first_filters_failures_and_resets_the_badge(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let acme = company_row(&app, "a01");
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;
    let refused = |user_name: &'static str| scim.post("/Users", json!({"userName": user_name, "emails": [{"value": "not-an-email", "type": "work"}]}));

    scim.create_user("first@acme.example").await;
    assert_eq!(refused("nomail1").await.status, 400);
    scim.create_user("second@acme.example").await;
    assert_eq!(refused("nomail2").await.status, 400);

    let badge = |page: &Page| -> Option<String> {
        let tag = tag_containing(&page.body, "class=\"badge\"")?;
        let start = page.body.find(tag).unwrap() + tag.len();
        Some(page.body[start..start + page.body[start..].find('<').unwrap()].to_owned())
    };
    let users = admin.get("/c/a01/users").await;
    assert_eq!(badge(&users).as_deref(), Some("2"), "{}", users.describe());

    let all = admin.get("/c/a01/activity").await;
    assert_eq!(all.status, 200);
    let at = |name: &str| all.body.find(name).unwrap_or_else(|| panic!("{name} missing: {}", all.describe()));
    assert!(at("nomail2") < at("second@acme.example"), "newest first");
    assert!(at("second@acme.example") < at("nomail1"));
    assert!(at("nomail1") < at("first@acme.example"));
    assert_eq!(all.body.matches("<tr class=\"outcome-failure\">").count(), 2);
    assert!(all.has("Failed (400)"));
    assert!(all.has("email address is required"), "the reason is shown");

    let after = admin.get("/c/a01/users").await;
    assert_eq!(badge(&after), None, "visiting the activity page resets the counter: {}", after.describe());

    let failures = admin.get("/c/a01/activity?outcome=failure").await;
    assert_eq!(failures.body.matches("<tr class=").count(), 2, "{}", failures.describe());
    assert!(failures.has("nomail1") && failures.has("nomail2") && !failures.has("first@acme.example"));
    assert!(failures.has("<option value=\"failure\" selected>Failures only</option>"));
    let successes = admin.get("/c/a01/activity?outcome=success").await;
    assert_eq!(successes.body.matches("<tr class=").count(), 2);
    assert!(successes.has("first@acme.example") && !successes.has("nomail1"));

    assert_eq!(refused("nomail3").await.status, 400);
    assert_eq!(badge(&admin.get("/c/a01/entra").await).as_deref(), Some("1"), "only failures since the last visit count");
}

/// An event of company `a01` about `subject`, as Entra's create would record it.
fn entra_event(company: &Company, subject: &str, outcome: &str) -> entrada::models::activity::NewActivity {
    entrada::models::activity::NewActivity {
        subject: Some(subject.to_owned()),
        outcome: outcome.to_owned(),
        status: if outcome == "success" { 201 } else { 400 },
        ..entrada::models::activity::NewActivity::new(company.company_id(), "Entra ID", "create", "User")
    }
}

fn record(app: &TestApp, rows: &[entrada::models::activity::NewActivity]) {
    let mut conn = app.conn();
    for chunk in rows.chunks(500) {
        entrada::per_backend!(&mut conn, c => diesel::insert_into(activity::table).values(chunk).execute(c)).unwrap();
    }
}

async fn successes_only_pages_through_a_long_run_of_failures_a_stretch_at_a_time(backend: Backend) {
    use entrada::models::activity::SUCCESS_SEARCH_SPAN;
    let app = spawn!(backend);
    app.scim_company("a01");
    let acme = company_row(&app, "a01");
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;
    // Two old successes, then a long run of failures (an Entra job retrying refused people),
    // then one new success.
    let event = |subject: &str, outcome: &str| entra_event(&acme, subject, outcome);
    let failures = 2 * SUCCESS_SEARCH_SPAN + 100;
    let mut rows = vec![event("oldest-success", "success"), event("old-success", "success")];
    rows.extend((0..failures).map(|i| event(&format!("refused-{i}"), "failure")));
    rows.push(event("newest-success", "success"));
    record(&app, &rows);

    let mut seen = Vec::new();
    let mut path = "/c/a01/activity?outcome=success".to_owned();
    let mut pages = 0;
    loop {
        let page = admin.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.describe());
        assert!(!page.has("refused-"), "no failure on a successes-only page: {}", page.describe());
        for name in ["newest-success", "old-success", "oldest-success"] {
            if page.body.contains(&format!(">{name}<")) {
                seen.push(name);
            }
        }
        pages += 1;
        let Some(at) = page.body.find("before=") else { break };
        let before: String = page.body[at + 7..].chars().take_while(char::is_ascii_digit).collect();
        if seen.len() == 1 && pages == 2 {
            assert!(page.has(&format!("No successful events among these {SUCCESS_SEARCH_SPAN} events")), "{}", page.describe());
        }
        path = format!("/c/a01/activity?outcome=success&before={before}");
        assert!(pages < 10, "the pages do not end");
    }
    assert_eq!(seen, ["newest-success", "old-success", "oldest-success"], "every success, newest first, once");
    assert_eq!(pages as i64, failures / SUCCESS_SEARCH_SPAN + 1, "one page per stretch of events looked through");
}

async fn a_stretch_that_reaches_the_first_event_offers_no_older_page(backend: Backend) {
    use entrada::models::activity::SUCCESS_SEARCH_SPAN;
    let app = spawn!(backend);
    app.scim_company("a01");
    let acme = company_row(&app, "a01");
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;
    // Exactly one stretch of events, none of them a success.
    let rows: Vec<_> = (0..SUCCESS_SEARCH_SPAN).map(|i| entra_event(&acme, &format!("refused-{i}"), "failure")).collect();
    record(&app, &rows);

    let page = admin.get("/c/a01/activity?outcome=success").await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.has("No events of this kind."), "{}", page.describe());
    assert!(!page.body.contains("before="), "nothing older to page to: {}", page.describe());
    let everything = admin.get("/c/a01/activity").await;
    assert!(everything.has("refused-4999") && everything.body.contains("before="), "{}", everything.describe());
}

async fn staff_see_each_status_counted_as_the_users_list_filters_it(backend: Backend) {
    let app = spawn!(backend);
    let acme = create_company(&app, "a01", "Acme", true);
    let news = add_passle(&app, &acme, "News");
    let now = chrono::Utc::now().naive_utc();
    // 3 active, 2 pending, 1 disabled in Entra, 1 disabled by an admin, 1 deprovisioned:
    // each of the last three also holds a Passle, so only the strongest reason counts.
    let plan: [(&str, usize); 5] = [("active", 3), ("pending", 2), ("disabled", 1), ("disabled_by_admin", 1), ("deprovisioned", 1)];
    for (status, how_many) in plan {
        for i in 0..how_many {
            let id = add_person(&app, &acme, &format!("{status}{i}@acme.example"), "Person", "entra");
            let mut conn = app.conn();
            if status != "pending" {
                Assignment::grant(&mut conn, acme.company_id(), id, &[news], Role::Editor, "manual").unwrap();
            }
            let person = users::table.find(id);
            match status {
                "disabled" => diesel::update(person).set(users::scim_active.eq(Some(false))).execute(&mut conn),
                "disabled_by_admin" => diesel::update(person).set(users::disabled_at.eq(Some(now))).execute(&mut conn),
                "deprovisioned" => diesel::update(person).set((users::deprovisioned_at.eq(Some(now)), users::scim_active.eq(Some(false)))).execute(&mut conn),
                _ => Ok(1),
            }
            .unwrap();
        }
    }
    // Another company's people are not counted.
    let other = create_company(&app, "b01", "Other", true);
    add_person(&app, &other, "someone@other.example", "Person", "entra");

    let staff = staff_portal(&app).await;
    let page = staff.get("/staff/companies/a01").await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let admin = admin_portal(&app, &acme, "admin@acme.example").await;
    for (key, label, expected) in [
        ("active", "Active", 3),
        ("pending", "Pending assignment", 2),
        ("disabled", "Disabled in Entra ID", 1),
        ("disabled_by_admin", "Disabled by an admin", 1),
        ("deprovisioned", "Deprovisioned", 1),
    ] {
        assert!(page.body.contains(&format!("<li>{label}: <strong>{expected}</strong></li>")), "{label}: {}", page.describe());
        let listed = admin.get(&format!("/c/a01/users?status={key}")).await;
        let people = if expected == 1 { "1 person".to_owned() } else { format!("{expected} people") };
        assert!(listed.has(&people), "the users list filtered by {key} agrees: {}", listed.describe());
    }
}
