//! Every CLI command, its output and its errors, on both databases.

use crate::helpers::{Backend, cli_with_env, stderr, stdout, token_from};
use crate::{on_both_backends, spawn, test_db};

on_both_backends!(
    company_create_then_errors_for_duplicates_and_bad_shortcodes,
    staff_and_admin_accounts_take_their_password_from_stdin,
    passle_create_needs_a_known_company_and_a_unique_name,
    token_generate_prints_a_tenant_url_and_a_token_that_replaces_the_last,
    a_token_replaced_by_the_cli_stops_working_within_a_second,
    demo_creates_a_company_with_three_passles_and_two_sign_ins,
);

/// The server remembers a token check for a second (`scim::token_cache`); a rotation by the CLI,
/// another process, is not seen at once but must take effect within that second.
async fn a_token_replaced_by_the_cli_stops_working_within_a_second(backend: Backend) {
    let app = spawn!(backend);
    app.cli(&["company", "create", "--shortcode", "a01", "--name", "Acme", "--enable-entra"], None);
    let first = token_from(&stdout(&app.cli(&["token", "generate", "--company", "a01"], None))).1;
    let old = app.scim_with_token("a01", &first);
    assert_eq!(old.get("/Users").await.status, 200);

    let second = token_from(&stdout(&app.cli(&["token", "generate", "--company", "a01"], None))).1;
    assert_eq!(app.scim_with_token("a01", &second).get("/Users").await.status, 200, "the new token works at once");
    let started = std::time::Instant::now();
    loop {
        let status = old.get("/Users").await.status;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        // One second, plus room for a loaded test machine.
        assert!(started.elapsed() < std::time::Duration::from_millis(1800), "the replaced token still works after 1.8 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(old.get("/Users").await.status, 401, "and stays refused");
}

async fn company_create_then_errors_for_duplicates_and_bad_shortcodes(backend: Backend) {
    let db = test_db!(backend);
    let out = db.cli(&["company", "create", "--shortcode", "a01", "--name", "Acme Ltd", "--enable-entra"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Acme Ltd (a01) created; Entra ID module enabled"));

    let out = db.cli(&["company", "create", "--shortcode", "a01", "--name", "Other"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), "entrada: a company with shortcode a01 already exists");

    for bad in ["A01", "a", "a_01", "abcdefghijklmnopq"] {
        let out = db.cli(&["company", "create", "--shortcode", bad, "--name", "X"], None);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(stderr(&out).contains("shortcode"), "{}", stderr(&out));
    }
    let out = db.cli(&["company", "create", "--shortcode", "b02"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--name"));
}

async fn staff_and_admin_accounts_take_their_password_from_stdin(backend: Backend) {
    let db = test_db!(backend);
    let out = db.cli(&["staff", "create", "--email", "cs@entrada.example"], Some("a-long-password\n"));
    assert!(out.status.success(), "{}", stderr(&out));

    let out = db.cli(&["staff", "create", "--email", "CS@entrada.example"], Some("a-long-password\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));

    let out = db.cli(&["staff", "create", "--email", "not-an-email"], Some("a-long-password\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not an email address"));

    let out = db.cli(&["staff", "create", "--email", "x@entrada.example"], Some("short\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("at least 10 characters"));

    let out = db.cli(&["staff", "create", "--email", "y@entrada.example"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no password given on standard input"));

    let out = db.cli(&["admin", "create", "--company", "zz9", "--email", "a@acme.example"], Some("a-long-password\n"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), "entrada: no company with shortcode \"zz9\"");

    db.cli(&["company", "create", "--shortcode", "a01", "--name", "Acme"], None);
    let out = db.cli(&["admin", "create", "--company", "a01", "--email", "a@acme.example"], Some("a-long-password\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("a@acme.example created for Acme (a01)"));
    // The password never appears in any output.
    assert!(!stdout(&out).contains("a-long-password") && !stderr(&out).contains("a-long-password"));
}

async fn passle_create_needs_a_known_company_and_a_unique_name(backend: Backend) {
    let db = test_db!(backend);
    let out = db.cli(&["passle", "create", "--company", "a01", "--name", "News"], None);
    assert_eq!(out.status.code(), Some(1));
    db.cli(&["company", "create", "--shortcode", "a01", "--name", "Acme"], None);
    let out = db.cli(&["passle", "create", "--company", "a01", "--name", "News"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = db.cli(&["passle", "create", "--company", "a01", "--name", "NEWS"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already has a Passle named"), "{}", stderr(&out));
    let out = db.cli(&["passle", "create", "--company", "a01", "--name", "  "], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("Passle name is required"));
}

async fn token_generate_prints_a_tenant_url_and_a_token_that_replaces_the_last(backend: Backend) {
    let app = spawn!(backend);
    let out = app.cli(&["token", "generate", "--company", "a01"], None);
    assert_eq!(out.status.code(), Some(1));
    app.cli(&["company", "create", "--shortcode", "a01", "--name", "Acme", "--enable-entra"], None);
    let out = app.cli(&["token", "generate", "--company", "a01"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let (tenant_url, token) = token_from(&stdout(&out));
    assert_eq!(tenant_url, app.url("/scim/a01/v2"));
    let parts: Vec<&str> = token.split('-').collect();
    assert_eq!(parts.len(), 4, "{token}");
    assert_eq!(parts[0], "a01");
    assert_eq!([parts[1].len(), parts[2].len(), parts[3].len()], [7, 7, 8]);
    assert!(parts[1..].iter().all(|p| p.chars().all(|c| c.is_ascii_alphanumeric())));

    let second = token_from(&stdout(&app.cli(&["token", "generate", "--company", "a01"], None))).1;
    assert_ne!(token, second);

    // The token is stored only as a digest; exactly one is live.
    use diesel::prelude::*;
    use entrada::db::schema::scim_tokens;
    let mut manager = entrada::db::ConnectionManager::new(&app.db.url);
    let mut conn = diesel::r2d2::ManageConnection::connect(&mut manager).unwrap();
    let rows: Vec<(String, Option<chrono::NaiveDateTime>)> = scim_tokens::table
        .select((scim_tokens::token_digest, scim_tokens::revoked_at))
        .load(&mut conn)
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|(digest, _)| !digest.contains(&token[4..]) && digest.len() == 64));
    assert_eq!(rows.iter().filter(|(_, revoked)| revoked.is_none()).count(), 1);
}

async fn demo_creates_a_company_with_three_passles_and_two_sign_ins(backend: Backend) {
    let db = test_db!(backend);
    let out = db.cli(&["demo"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("shortcode demo"), "{text}");
    assert!(text.contains("staff@demo.example") && text.contains("admin@demo.example"), "{text}");
    assert_eq!(text.matches("password: ").count(), 2);
    let out = db.cli(&["demo"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"));
    // Its Passles exist: a fourth with a taken name is refused.
    let out = db.cli(&["passle", "create", "--company", "demo", "--name", "news"], None);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn usage_errors_exit_with_2_and_help_exits_with_0() {
    let out = cli_with_env(&["frobnicate"], None, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown command \"frobnicate\""));
    let out = cli_with_env(&["help"], None, &[]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("token generate --company S"));
}
