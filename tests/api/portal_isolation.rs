//! Tenant isolation in the portal and SCIM: a company's admin never sees or changes another
//! company's data, and cannot even tell it exists. Every test runs on both databases.

use diesel::prelude::*;
use entrada::db::schema::{accounts, activity, companies, passle_assignments, passles, scim_tokens, users};
use entrada::domain::Shortcode;
use entrada::models::Company;
use entrada::models::scim_token::ScimToken;
use serde_json::json;

use crate::helpers::{Backend, Scim, TestApp, entra_user};
use crate::on_both_backends;
use crate::portal::{Portal, add_passle, admin_portal, assignments_of, create_account, create_company, person_id, PASSWORD};

on_both_backends!(
    every_company_page_and_form_of_another_company_answers_like_a_missing_company,
    another_companys_people_and_passles_are_not_found_under_the_admins_own_company,
    a_company_admin_gets_404_on_every_staff_route,
    another_companys_passle_posted_on_a_person_page_is_never_assigned,
    another_companys_passle_posted_as_the_user_configuration_is_never_selected,
    a_scim_token_works_only_on_its_own_companys_url,
    lists_search_and_the_failure_badge_show_only_the_companys_own_data,
);

/// Two companies with an admin, a Passle, a person and a live token each; a01's admin is
/// signed in.
struct World {
    app: TestApp,
    a01: Company,
    b02: Company,
    admin: Portal,
    scim_a: Scim,
    scim_b: Scim,
    a_user: i64,
    a_passle: i64,
    b_user: i64,
    b_passle: i64,
}

async fn world(backend: Backend) -> Option<World> {
    let app = TestApp::spawn(backend).await?;
    let a01 = create_company(&app, "a01", "Alpha Corp", true);
    let b02 = create_company(&app, "b02", "Bravo Holdings", true);
    let token = |company: &Company| {
        ScimToken::rotate(&mut app.conn(), company.company_id(), &Shortcode::parse(&company.shortcode).unwrap()).unwrap().expose().to_owned()
    };
    let (scim_a, scim_b) = (app.scim_with_token("a01", &token(&a01)), app.scim_with_token("b02", &token(&b02)));
    scim_a.create_user("ines@alpha.example").await;
    scim_b.create_user("bob@bravo.example").await;
    // A refused create in b02: a failure a01's badge must not count.
    let refused = scim_b.post("/Users", json!({"userName": "nomail-bravo", "emails": [{"value": "nope", "type": "work"}]})).await;
    assert_eq!(refused.status, 400);
    let a_passle = add_passle(&app, &a01, "Alpha News");
    let b_passle = add_passle(&app, &b02, "Bravo Secret Plans");
    create_account(&app, Some(b02.company_id()), "admin@bravo.example", PASSWORD, false);
    let admin = admin_portal(&app, &a01, "admin@alpha.example").await;
    let (a_user, b_user) = (person_id(&app, "ines@alpha.example"), person_id(&app, "bob@bravo.example"));
    Some(World { app, a01, b02, admin, scim_a, scim_b, a_user, a_passle, b_user, b_passle })
}

/// What a company's state looks like from the database, to prove nothing changed.
fn snapshot(app: &TestApp, company: &Company) -> String {
    let mut conn = app.conn();
    let company_row: (bool, bool, String) = companies::table
        .find(company.id)
        .select((companies::entra_enabled, companies::job_title_sync, companies::provisioning_mode))
        .first(&mut conn)
        .unwrap();
    let people: Vec<(i64, Option<String>, Option<String>, Option<bool>, bool, String)> = users::table
        .filter(users::company_id.eq(company.id))
        .order(users::id)
        .select((users::id, users::role, users::job_title, users::scim_active, users::disabled_at.is_not_null(), users::source))
        .load(&mut conn)
        .unwrap();
    let passle_rows: Vec<(i64, String, bool)> = passles::table
        .filter(passles::company_id.eq(company.id))
        .order(passles::id)
        .select((passles::id, passles::name, passles::selected_for_provisioning))
        .load(&mut conn)
        .unwrap();
    let assignments: i64 = passle_assignments::table.filter(passle_assignments::company_id.eq(company.id)).count().get_result(&mut conn).unwrap();
    let tokens: Vec<(i64, bool)> = scim_tokens::table
        .filter(scim_tokens::company_id.eq(company.id))
        .order(scim_tokens::id)
        .select((scim_tokens::id, scim_tokens::revoked_at.is_null()))
        .load(&mut conn)
        .unwrap();
    let events: i64 = activity::table.filter(activity::company_id.eq(company.id)).count().get_result(&mut conn).unwrap();
    let admins: i64 = accounts::table.filter(accounts::company_id.eq(company.id)).count().get_result(&mut conn).unwrap();
    format!("{company_row:?}\n{people:?}\n{passle_rows:?}\nassignments {assignments}\ntokens {tokens:?}\nevents {events}\nadmins {admins}")
}

/// Every company route, with `{c}` the shortcode, `{u}` a person id and `{p}` a Passle id:
/// (method, path, form fields).
fn company_routes(c: &str, u: i64, p: i64) -> Vec<(&'static str, String, Vec<(&'static str, String)>)> {
    let get = |path: String| ("GET", path, vec![]);
    vec![
        get(format!("/c/{c}/entra")),
        get(format!("/c/{c}/entra?notice=saved")),
        get(format!("/c/{c}/users")),
        get(format!("/c/{c}/users?q=bob&status=pending&source=entra")),
        get(format!("/c/{c}/users/new")),
        get(format!("/c/{c}/users/{u}")),
        get(format!("/c/{c}/passles")),
        get(format!("/c/{c}/activity")),
        get(format!("/c/{c}/activity?outcome=failure")),
        ("POST", format!("/c/{c}/entra/token"), vec![]),
        ("POST", format!("/c/{c}/entra/disconnect"), vec![("disable_all", "yes".into())]),
        ("POST", format!("/c/{c}/entra/configuration"), vec![("mode", "selected_passles".into()), ("passle", p.to_string())]),
        ("POST", format!("/c/{c}/users"), vec![("email", "spy@alpha.example".into()), ("given_name", "Spy".into())]),
        ("POST", format!("/c/{c}/users/{u}/access"), vec![("role", "administrator".into()), ("passle", p.to_string())]),
        ("POST", format!("/c/{c}/users/{u}/title"), vec![("job_title", "Spy".into())]),
        ("POST", format!("/c/{c}/users/{u}/disabled"), vec![("disabled", "true".into())]),
        ("POST", format!("/c/{c}/passles"), vec![("name", "Spy Passle".into())]),
        ("POST", format!("/c/{c}/passles/{p}"), vec![("name", "Renamed by a spy".into())]),
    ]
}

/// Sends a route as the portal would (forms with the session's CSRF token).
async fn send(portal: &Portal, method: &str, path: &str, fields: &[(&'static str, String)]) -> crate::portal::Page {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match method {
        "GET" => portal.get(path).await,
        _ => portal.form(path, &fields).await,
    }
}

async fn every_company_page_and_form_of_another_company_answers_like_a_missing_company(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let (before_a, before_b) = (snapshot(&w.app, &w.a01), snapshot(&w.app, &w.b02));
    let reference = w.admin.get("/c/zz99/entra").await;
    assert_eq!(reference.status, 404);
    assert!(reference.has("Page not found"));

    let foreign = company_routes("b02", w.b_user, w.b_passle);
    let missing = company_routes("zz99", w.b_user, w.b_passle);
    assert_eq!(foreign.len(), 18);
    for ((method, path, fields), (_, missing_path, _)) in foreign.iter().zip(&missing) {
        let answer = send(&w.admin, method, path, fields).await;
        let nothing = send(&w.admin, method, missing_path, fields).await;
        assert_eq!(answer.status, 404, "{method} {path}: {}", answer.describe());
        assert_eq!(nothing.status, 404, "{method} {missing_path}");
        assert_eq!(answer.body, nothing.body, "{method} {path} must read like a company that does not exist");
        assert_eq!(answer.body, reference.body, "{method} {path}");
        for secret in ["Bravo", "bob@bravo.example", "b02"] {
            assert!(!answer.body.contains(secret), "{method} {path} leaks {secret}");
        }
        assert!(answer.set_cookie("entrada_session").is_none());
    }
    assert_eq!(snapshot(&w.app, &w.b02), before_b, "nothing of b02 changed");
    assert_eq!(snapshot(&w.app, &w.a01), before_a, "nothing of a01 changed either");
    assert_eq!(w.scim_b.get("/Users").await.status, 200, "b02's token still works");
}

async fn another_companys_people_and_passles_are_not_found_under_the_admins_own_company(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let (before_a, before_b) = (snapshot(&w.app, &w.a01), snapshot(&w.app, &w.b02));
    // a01's URL with b02's ids, against a01's URL with ids that exist nowhere.
    let foreign = company_routes("a01", w.b_user, w.b_passle);
    let missing = company_routes("a01", 999_999, 999_998);
    let with_ids = |path: &str| path.contains(&format!("/users/{}", w.b_user)) || path.contains(&format!("/passles/{}", w.b_passle));
    let mut checked = 0;
    for ((method, path, fields), (_, missing_path, _)) in foreign.iter().zip(&missing) {
        if !with_ids(path) {
            continue;
        }
        checked += 1;
        let answer = send(&w.admin, method, path, fields).await;
        let nothing = send(&w.admin, method, missing_path, fields).await;
        assert_eq!(answer.status, 404, "{method} {path}: {}", answer.describe());
        assert_eq!(nothing.status, 404, "{method} {missing_path}: {}", nothing.describe());
        assert_eq!(answer.body, nothing.body, "{method} {path}");
        assert!(!answer.body.contains("bob@bravo.example") && !answer.body.contains("Bravo"));
    }
    assert_eq!(checked, 5, "person page, its three forms, and the Passle rename");
    assert_eq!(snapshot(&w.app, &w.b02), before_b);
    assert_eq!(snapshot(&w.app, &w.a01), before_a);
}

async fn a_company_admin_gets_404_on_every_staff_route(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let (before_a, before_b) = (snapshot(&w.app, &w.a01), snapshot(&w.app, &w.b02));
    let reference = w.admin.get("/c/zz99/entra").await;
    let routes: Vec<(&str, &str, Vec<(&'static str, String)>)> = vec![
        ("GET", "/staff/companies", vec![]),
        ("GET", "/staff/companies?q=bravo", vec![]),
        ("GET", "/staff/companies/new", vec![]),
        ("GET", "/staff/companies/a01", vec![]),
        ("GET", "/staff/companies/b02", vec![]),
        ("GET", "/staff/companies/zz99", vec![]),
        ("POST", "/staff/companies", vec![("name", "Spy Co".into()), ("shortcode", "spy1".into())]),
        ("POST", "/staff/companies/a01/settings", vec![("setting", "job_title_sync".into()), ("enabled", "true".into())]),
        ("POST", "/staff/companies/b02/settings", vec![("setting", "entra".into()), ("enabled", "false".into())]),
        ("POST", "/staff/companies/a01/admins", vec![("email", "second@alpha.example".into())]),
        ("POST", "/staff/companies/b02/admins", vec![("email", "spy@bravo.example".into())]),
    ];
    for (method, path, fields) in &routes {
        let answer = send(&w.admin, method, path, fields).await;
        assert_eq!(answer.status, 404, "{method} {path}: {}", answer.describe());
        assert_eq!(answer.body, reference.body, "{method} {path}");
    }
    let count: i64 = companies::table.count().get_result(&mut w.app.conn()).unwrap();
    assert_eq!(count, 2);
    let accounts: i64 = accounts::table.count().get_result(&mut w.app.conn()).unwrap();
    assert_eq!(accounts, 2);
    assert_eq!(snapshot(&w.app, &w.a01), before_a);
    assert_eq!(snapshot(&w.app, &w.b02), before_b);
}

async fn another_companys_passle_posted_on_a_person_page_is_never_assigned(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let path = format!("/c/a01/users/{}", w.a_user);
    let (mine, theirs) = (w.a_passle.to_string(), w.b_passle.to_string());
    let saved = w.admin.form(&format!("{path}/access"), &[("role", "content_creator"), ("passle", &mine), ("passle", &theirs)]).await;
    assert_eq!(saved.status, 303, "{}", saved.describe());
    assert_eq!(assignments_of(&w.app, w.a_user), [(w.a_passle, "content_creator".to_owned(), "manual".to_owned())]);
    let on_theirs: i64 = passle_assignments::table.filter(passle_assignments::passle_id.eq(w.b_passle)).count().get_result(&mut w.app.conn()).unwrap();
    assert_eq!(on_theirs, 0);

    // Only theirs: the person ends up on no Passle at all.
    let saved = w.admin.form(&format!("{path}/access"), &[("role", "editor"), ("passle", &theirs)]).await;
    assert_eq!(saved.status, 303);
    assert!(assignments_of(&w.app, w.a_user).is_empty());
    let page = w.admin.get(&path).await;
    assert!(page.has("Alpha News") && !page.has("Bravo Secret Plans"), "{}", page.describe());
    assert!(page.has("Pending assignment"));
}

async fn another_companys_passle_posted_as_the_user_configuration_is_never_selected(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let theirs = w.b_passle.to_string();
    let answer = w.admin.form("/c/a01/entra/configuration", &[("mode", "selected_passles"), ("passle", &theirs)]).await;
    let selected: bool = passles::table.find(w.b_passle).select(passles::selected_for_provisioning).first(&mut w.app.conn()).unwrap();
    assert!(!selected, "b02's Passle must not be selected by a01's form");
    w.scim_a.create_user("new@alpha.example").await;
    let newcomer = person_id(&w.app, "new@alpha.example");
    assert!(assignments_of(&w.app, newcomer).iter().all(|(p, _, _)| *p != w.b_passle));
    // With no Passle of its own chosen, the form must be refused like an empty choice,
    // not saved as "Content Creator on chosen Passles" with nothing chosen.
    assert_eq!(answer.status, 422, "{}", answer.describe());
    assert!(answer.has("Choose at least one Passle, or pick another option."));
    let mode: String = companies::table.find(w.a01.id).select(companies::provisioning_mode).first(&mut w.app.conn()).unwrap();
    assert_eq!(mode, "none");
}

async fn a_scim_token_works_only_on_its_own_companys_url(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let a_on_b = w.app.scim_with_token("b02", &w.scim_a.token);
    let b_on_a = w.app.scim_with_token("a01", &w.scim_b.token);
    let unknown_on_b = w.app.scim_with_token("b02", "b02-AAAAAAA-BBBBBBB-CCCCCCCC");
    let a_on_missing = w.app.scim_with_token("zz99", &w.scim_a.token);

    assert_eq!(w.scim_a.get("/Users").await.status, 200);
    let refused = a_on_b.get("/Users").await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(refused.header("www-authenticate").map(|h| h.starts_with("Bearer")), Some(true));
    let unknown = unknown_on_b.get("/Users").await;
    assert_eq!((unknown.status, &unknown.body), (401, &refused.body), "another company's token reads like a wrong one");
    assert_eq!(b_on_a.get("/Users").await.status, 401);
    assert_eq!(a_on_missing.get("/Users").await.status, 401);

    let bob = w.scim_b.filter_users("userName eq \"bob@bravo.example\"").await.body["Resources"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(a_on_b.get(&format!("/Users/{bob}")).await.status, 401);
    assert_eq!(w.scim_a.get(&format!("/Users/{bob}")).await.status, 404, "a01 cannot reach b02's person through its own URL");
    assert_eq!(a_on_b.post("/Users", entra_user("planted@bravo.example")).await.status, 401);
    assert_eq!(a_on_b.delete(&format!("/Users/{bob}")).await.status, 401);
    let b_people: i64 = users::table.filter(users::company_id.eq(w.b02.id)).count().get_result(&mut w.app.conn()).unwrap();
    assert_eq!(b_people, 1);
    assert_eq!(w.scim_b.get(&format!("/Users/{bob}")).await.status, 200);
}

async fn lists_search_and_the_failure_badge_show_only_the_companys_own_data(backend: Backend) {
    let Some(w) = world(backend).await else { return };
    let people = w.admin.get("/c/a01/users").await;
    assert!(people.has("1 person") && people.has("ines@alpha.example"), "{}", people.describe());
    assert!(!people.has("bob@bravo.example"));
    assert!(w.admin.get("/c/a01/users?q=bob").await.has("Nobody matches."));
    assert!(!w.admin.get("/c/a01/users?status=pending").await.has("bob@bravo.example"));
    let passle_page = w.admin.get("/c/a01/passles").await;
    assert!(passle_page.has("Alpha News") && !passle_page.has("Bravo Secret Plans"));
    let entra = w.admin.get("/c/a01/entra").await;
    assert!(entra.has("Alpha News") && !entra.has("Bravo Secret Plans"), "the user configuration lists only a01's Passles");
    assert!(!entra.body.contains("class=\"badge\""), "b02's failure is not a01's: {}", entra.describe());
    let events = w.admin.get("/c/a01/activity").await;
    assert!(events.has("ines@alpha.example"));
    assert!(!events.has("bob@bravo.example") && !events.has("nomail-bravo"), "{}", events.describe());
    let person = w.admin.get(&format!("/c/a01/users/{}", w.a_user)).await;
    assert!(person.has("Alpha News") && !person.has("Bravo"));
}
