//! Health, migrations, start-up, configuration errors and shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{Backend, Scim, cli_with_env, entra_user, stderr, stdout, token_from};
use crate::{on_both_backends, spawn, test_db};

on_both_backends!(
    health_check_reports_the_database,
    migrations_run_twice_and_every_table_is_readable,
    instances_started_together_migrate_one_at_a_time,
);

async fn health_check_reports_the_database(backend: Backend) {
    let app = spawn!(backend);
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    let expected = if backend == Backend::Sqlite { "sqlite" } else { "postgresql" };
    assert_eq!(body["database"], expected);
}

async fn migrations_run_twice_and_every_table_is_readable(backend: Backend) {
    let db = test_db!(backend);
    for _ in 0..2 {
        let out = db.cli(&["migrate"], None);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // Every table of schema.rs can be read through diesel on this backend.
    use diesel::prelude::*;
    use entrada::db::schema::*;
    let mut conn = entrada::db::ConnectionManager::new(&db.url);
    let mut conn = diesel::r2d2::ManageConnection::connect(&mut conn).expect("connect");
    let conn = &mut conn;
    assert_eq!(companies::table.count().get_result::<i64>(conn).unwrap(), 0);
    passles::table.select(passles::all_columns).load::<(i64, i64, String, String, bool, _, _)>(conn)
        .map(|_: Vec<(_, _, _, _, _, chrono::NaiveDateTime, chrono::NaiveDateTime)>| ()).unwrap();
    for count in [
        users::table.count().get_result::<i64>(conn),
        user_lookups::table.count().get_result::<i64>(conn),
        passle_assignments::table.count().get_result::<i64>(conn),
        scim_tokens::table.count().get_result::<i64>(conn),
        accounts::table.count().get_result::<i64>(conn),
        sessions::table.count().get_result::<i64>(conn),
        sign_in_failures::table.count().get_result::<i64>(conn),
        setup_tokens::table.count().get_result::<i64>(conn),
        activity::table.count().get_result::<i64>(conn),
    ] {
        assert_eq!(count.unwrap(), 0);
    }
    users::table.select(users::all_columns).limit(1).execute(conn).unwrap();
    user_lookups::table.select(user_lookups::all_columns).limit(1).execute(conn).unwrap();
    activity::table.select(activity::all_columns).limit(1).execute(conn).unwrap();
    accounts::table.select(accounts::all_columns).limit(1).execute(conn).unwrap();
}

/// Several instances (or a CLI command beside a starting server) on one new database: each
/// finds the schema complete, one of them applied it, and none fails half-way.
async fn instances_started_together_migrate_one_at_a_time(backend: Backend) {
    let db = test_db!(backend);
    let url = db.url.clone();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || cli_with_env(&["migrate"], None, &[("DATABASE_URL", &url)]))
        })
        .collect();
    let outputs: Vec<_> = runs.into_iter().map(|run| run.join().expect("a migrate run")).collect();
    for out in &outputs {
        assert!(out.status.success(), "every run succeeds: {}", stderr(out));
    }
    let tree = std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite")).unwrap();
    let migrations = tree.filter(|entry| entry.as_ref().is_ok_and(|e| e.path().is_dir())).count();
    let mut said: Vec<String> = outputs.iter().map(stdout).collect();
    said.sort();
    let applied_all = format!("({migrations} migrations applied now)");
    assert_eq!(said.iter().filter(|s| s.contains(&applied_all)).count(), 1, "one run applied them all: {said:?}");
    assert_eq!(said.iter().filter(|s| s.contains("(0 migrations applied now)")).count(), 3, "{said:?}");
}

#[test]
fn both_migration_trees_have_the_same_migrations() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let names = |backend: &str| {
        let mut names: Vec<String> = std::fs::read_dir(root.join(backend))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert!(!names("sqlite").is_empty());
    assert_eq!(names("sqlite"), names("postgres"));
}

#[test]
fn each_bad_setting_stops_start_up_with_one_line_naming_it() {
    for (variable, value) in [
        ("BIND", "not-an-address"),
        ("PUBLIC_URL", "entrada.example.com"),
        ("DATABASE_URL", "mysql://localhost/entrada"),
        ("RUST_LOG", "info,[["),
        ("DATABASE_POOL_SIZE", "lots"),
    ] {
        let out = cli_with_env(&["serve"], None, &[(variable, value)]);
        assert_eq!(out.status.code(), Some(2), "{variable}");
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(variable), "{err}");
    }
}

#[test]
fn an_unreachable_database_is_a_clear_start_up_error() {
    let out = cli_with_env(&["migrate"], None, &[("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("DATABASE_URL") && err.contains("connection"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
}

/// Starts `entrada serve` on a free port and returns it with the lines it printed until
/// it said it is listening.
fn start_server(db_url: &str) -> (std::process::Child, Vec<String>, u16) {
    let (child, lines, port, _) = start_server_logging(db_url, "info");
    (child, lines, port)
}

/// Like [`start_server`], also collecting everything the server logs afterwards.
fn start_server_logging(db_url: &str, log: &str) -> (std::process::Child, Vec<String>, u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_entrada"))
        .arg("serve")
        .env_clear()
        .env("DATABASE_URL", db_url)
        .env("BIND", "127.0.0.1:0")
        .env("RUST_LOG", log)
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn entrada serve");
    let mut lines = Vec::new();
    let mut reader = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut port = 0;
    for line in reader.by_ref() {
        let line = line.unwrap();
        if line.contains("Entrada is listening") {
            port = line.split("port=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
            lines.push(line);
            break;
        }
        lines.push(line);
    }
    assert_ne!(port, 0, "server never started: {lines:?}");
    // Keep draining stderr so the server never writes into a closed pipe.
    let later = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = later.clone();
    std::thread::spawn(move || reader.map_while(Result::ok).for_each(|l| sink.lock().unwrap().push(l)));
    (child, lines, port, later)
}

/// On SQLite a commit's WAL frames are gathered and written together (`db::wal_buffer`):
/// every create the server acknowledged must still be there after the process is killed
/// (SIGKILL: no shutdown, nothing written on the way out) and the server started again.
#[actix_web::test]
async fn every_acknowledged_create_survives_a_killed_server() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("entrada.db").display().to_string();
    let env = [("DATABASE_URL", url.as_str())];
    let created = cli_with_env(&["company", "create", "--shortcode", "k01", "--name", "Killed", "--enable-entra"], None, &env);
    assert!(created.status.success(), "{}", stderr(&created));
    let generated = cli_with_env(&["token", "generate", "--company", "k01"], None, &env);
    let token = token_from(&stdout(&generated)).1;
    let scim_on = |port: u16| Scim::new(format!("http://127.0.0.1:{port}/scim/k01/v2"), token.clone(), "k01");

    let (mut child, _, port) = start_server(&url);
    let scim = scim_on(port);
    let mut ids = Vec::new();
    // Eight at a time, so that the writer commits several creates together.
    for round in 0..40 {
        let creates = (0..8).map(|i| scim.post("/Users", entra_user(&format!("p{round}-{i}@killed.example"))));
        for response in futures_util::future::join_all(creates).await {
            assert_eq!(response.status, 201, "{}", response.body);
            ids.push(response.body["id"].as_str().unwrap().to_owned());
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut child, _, port) = start_server(&url);
    let scim = scim_on(port);
    for id in &ids {
        let read = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(read.status, 200, "user {id} was acknowledged but is gone: {}", read.body);
    }
    let listed = scim.get("/Users?count=0").await;
    assert_eq!(listed.body["totalResults"], 320, "{}", listed.body);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn first_start_prints_a_setup_link_once_and_sigterm_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("nested/dir/entrada.db").display().to_string();
    let (mut child, lines, port) = start_server(&url);
    let text = lines.join("\n");
    assert_eq!(text.matches("/setup/").count(), 1, "{text}");
    assert!(text.contains("entrada demo"), "{text}");
    assert!(text.contains(&format!("http://127.0.0.1:{port}/setup/")), "{text}");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Once a staff account exists the hint is no longer printed.
    let out = cli_with_env(&["staff", "create", "--email", "cs@entrada.example"], Some("a-long-password\n"), &[("DATABASE_URL", &url)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (mut child, lines, _) = start_server(&url);
    child.kill().unwrap();
    let _ = child.wait();
    assert!(!lines.join("\n").contains("/setup/"));
}

#[test]
fn secrets_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("entrada.db").display().to_string();
    let env = [("DATABASE_URL", url.as_str())];
    assert!(cli_with_env(&["company", "create", "--shortcode", "a01", "--name", "Acme", "--enable-entra"], None, &env).status.success());
    let out = cli_with_env(&["token", "generate", "--company", "a01"], None, &env);
    let token = String::from_utf8_lossy(&out.stdout).lines().find_map(|l| l.strip_prefix("Secret token:")).unwrap().trim().to_owned();
    let (mut child, _, port, logs) = start_server_logging(&url, "debug");
    let status = raw_http::get_users(port, &token);
    assert_eq!(status, 200);
    // A wrong token too: neither may be logged.
    assert_eq!(raw_http::get_users(port, "a01-wrong-token-value"), 401);
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    let _ = child.wait();
    let text = logs.lock().unwrap().join("\n");
    assert!(text.contains("/scim/a01/v2/Users"), "requests are logged: {text}");
    assert!(!text.contains(&token[4..]) && !text.contains("wrong-token-value"), "{text}");
}

/// A tiny synchronous HTTP GET (no async runtime in a plain #[test]).
mod raw_http {
    use std::io::{Read, Write};

    pub fn get_users(port: u16, token: &str) -> u16 {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(stream, "GET /scim/a01/v2/Users?filter=userName+eq+%22x%22 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response.split(' ').nth(1).unwrap().parse().unwrap()
    }
}

on_both_backends!(the_setup_link_creates_the_first_staff_account_once);

async fn the_setup_link_creates_the_first_staff_account_once(backend: Backend) {
    let app = spawn!(backend);
    let secret = entrada::models::setup_token::SetupToken::issue(&mut app.conn()).unwrap();
    let path = format!("/setup/{}", secret.expose());
    let page = app.get(&path).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Create the first staff account"));

    let post = |form: [(&'static str, &'static str); 3]| app.client.post(app.url(&path)).form(&form).send();
    let mismatch = post([("email", "cs@entrada.example"), ("password", "a-long-password"), ("password_confirm", "another-password")]).await.unwrap();
    assert_eq!(mismatch.status(), 422);
    assert!(mismatch.text().await.unwrap().contains("the two passwords differ"));
    let bad_email = post([("email", "nope"), ("password", "a-long-password"), ("password_confirm", "a-long-password")]).await.unwrap();
    assert_eq!(bad_email.status(), 422);
    assert!(bad_email.text().await.unwrap().contains("is not an email address"));

    let done = post([("email", "cs@entrada.example"), ("password", "a-long-password"), ("password_confirm", "a-long-password")]).await.unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("Your staff account is ready"));
    assert!(entrada::models::account::Account::staff_exists(&mut app.conn()).unwrap());
    // The link is used up.
    assert_eq!(app.get(&path).await.status(), 410);
    let again = post([("email", "x@entrada.example"), ("password", "a-long-password"), ("password_confirm", "a-long-password")]).await.unwrap();
    assert_eq!(again.status(), 410);
    assert_eq!(app.get("/setup/not-a-real-token").await.status(), 410);
    assert_eq!(app.get("/static/css/app.css").await.status(), 200);
}

on_both_backends!(people_stored_before_the_document_migration_read_back_unchanged);

/// A database from before `2026-11-27-000001_user_document` (one `user_values` row per value)
/// is upgraded at start-up: every value reads back as before, and filters find them.
async fn people_stored_before_the_document_migration_read_back_unchanged(backend: Backend) {
    use diesel::RunQueryDsl;
    use diesel_migrations::MigrationHarness;
    let db = test_db!(backend);
    let mut conn = entrada::db::ConnectionManager::new(&db.url);
    let mut conn = diesel::r2d2::ManageConnection::connect(&mut conn).expect("connect");
    let before_document = 4;
    for _ in 0..before_document {
        match &mut conn {
            entrada::db::AnyConnection::Sqlite(c) => c.run_next_migration(entrada::db::SQLITE_MIGRATIONS).map(drop),
            entrada::db::AnyConnection::Postgresql(c) => c.run_next_migration(entrada::db::POSTGRES_MIGRATIONS).map(drop),
        }
        .expect("older migration");
    }
    let at = "'2026-11-01 10:00:00'";
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let statements = [
        format!("INSERT INTO companies (shortcode, name, entra_enabled, created_at, updated_at) VALUES ('a01', 'Acme', TRUE, {at}, {at})"),
        format!(
            "INSERT INTO users (company_id, scim_id, user_name, user_name_lower, external_id, external_id_lower, email, email_lower, \
             display_name, given_name, family_name, scim_active, source, created_at, updated_at, version) VALUES \
             (1, 'old-1', 'Old.Timer@acme.example', 'old.timer@acme.example', 'OT1', 'ot1', 'Old.Timer@acme.example', \
             'old.timer@acme.example', 'Old Timer', 'Old', 'Timer', TRUE, 'entra', {at}, {at}, 3)"
        ),
        "INSERT INTO user_values (user_id, company_id, attribute, position, type, is_primary, value, value_lower, display, formatted, \
         street_address, locality, region, postal_code, country, raw_json) VALUES \
         (1, 1, 'emails', 0, 'work', TRUE, 'Old.Timer@acme.example', 'old.timer@acme.example', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
         (1, 1, 'emails', 1, 'home', NULL, 'OT@home.example', 'ot@home.example', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
         (1, 1, 'phoneNumbers', 0, 'mobile', NULL, '+33 6 11', '+33 6 11', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
         (1, 1, 'addresses', 0, 'work', NULL, NULL, NULL, NULL, NULL, '1 Rue X', 'Paris', NULL, '75001', 'FR', NULL), \
         (1, 1, 'ims', 0, NULL, NULL, 'ot', 'ot', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{\"value\":\"ot\",\"type\":\"skype\",\"extra\":{\"a\":1}}'), \
         (1, 1, 'name.formatted', 0, NULL, NULL, 'Old Timer', 'old timer', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
         (1, 1, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', 0, NULL, NULL, 'Operations', 'operations', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
         (1, 1, 'urn:acme:ext:1.0:User:level', 0, NULL, NULL, '3', '3', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '3')"
            .to_owned(),
    ];
    for sql in &statements {
        entrada::per_backend!(&mut conn, c => diesel::sql_query(sql).execute(c)).expect(sql);
    }
    drop(conn);

    let app = crate::helpers::TestApp::spawn_on(db).await;
    let scim = app.scim_token("a01");
    let read = scim.get("/Users/old-1").await;
    assert_eq!(read.status, 200, "{}", read.body);
    let user = &read.body;
    assert_eq!(user["userName"], "Old.Timer@acme.example");
    assert_eq!(
        user["emails"],
        serde_json::json!([{"value": "Old.Timer@acme.example", "type": "work", "primary": true}, {"value": "OT@home.example", "type": "home"}])
    );
    assert_eq!(user["phoneNumbers"], serde_json::json!([{"value": "+33 6 11", "type": "mobile"}]));
    assert_eq!(
        user["addresses"],
        serde_json::json!([{"type": "work", "streetAddress": "1 Rue X", "locality": "Paris", "postalCode": "75001", "country": "FR"}])
    );
    assert_eq!(user["ims"], serde_json::json!([{"value": "ot", "type": "skype", "extra": {"a": 1}}]));
    assert_eq!(user["name"]["formatted"], "Old Timer");
    assert_eq!(user[enterprise]["department"], "Operations");
    assert_eq!(user["urn:acme:ext:1.0:User"]["level"], 3);
    assert_eq!(user["meta"]["version"], "W/\"3\"");

    for filter in [
        "emails[type eq \"home\"].value eq \"ot@HOME.example\"",
        "emails[type eq \"work\"].value eq \"old.timer@acme.example\"",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"operations\"",
        "urn:acme:ext:1.0:User:level eq \"3\"",
        "phoneNumbers[type eq \"mobile\"].value eq \"+33 6 11\"",
        "addresses[locality eq \"paris\" and postalCode sw \"75\"]",
        "ims.value eq \"OT\"",
        "name.formatted co \"timer\"",
    ] {
        let found = scim.filter_users(filter).await;
        assert_eq!(found.body["totalResults"], 1, "{filter}: {}", found.body);
    }
    // Entra's next PATCH applies to the upgraded person as to any other.
    let patched = scim
        .patch("/Users/old-1", crate::helpers::patch_op(serde_json::json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "old.new@acme.example"}])))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(scim.filter_users("emails[type eq \"work\"].value eq \"old.new@acme.example\"").await.body["totalResults"], 1);
    assert_eq!(scim.filter_users("emails[type eq \"work\"].value eq \"old.timer@acme.example\"").await.body["totalResults"], 0);
    assert_eq!(scim.get("/Users/old-1").await.body["ims"], user["ims"]);
}

/// PostgreSQL keeps generic plans, which are re-made only when statistics change: the server
/// analyzes a table once it holds people and again as it grows, even with autovacuum off
/// (as on this machine kind).
#[actix_web::test]
async fn postgres_statistics_follow_the_people_provisioned() {
    use diesel::RunQueryDsl;
    let app = spawn!(Backend::Postgres);
    let scim = app.scim_company("a01");
    for i in 0..60 {
        let created = scim.post("/Users", crate::helpers::entra_user(&format!("p{i}@acme.example"))).await;
        assert_eq!(created.status, 201, "{}", created.body);
    }
    #[derive(diesel::QueryableByName)]
    struct Analyzed {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    // The counts reach pg_stat_user_tables within ~10 s, and the server looks every second.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let analyzed: Analyzed = entrada::per_backend!(&mut app.conn(), c => diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_user_tables WHERE relname IN ('users', 'user_lookups') AND last_analyze IS NOT NULL"
        )
        .get_result(c))
        .expect("statistics");
        if analyzed.n == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "users and user_lookups were not analyzed within 90 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Plans made now find the people by index.
    assert_eq!(scim.filter_users("userName eq \"P42@acme.example\"").await.body["totalResults"], 1);
}

/// A SQLite write that cannot be written (here: the file size limit, as a full disk would)
/// is reported, not swallowed by the WAL buffer (`db::wal_buffer` writes a commit's frames
/// at its COMMIT, whose error the command sees), and the database stays whole and writable.
#[test]
fn a_write_the_disk_refuses_fails_loudly_and_leaves_the_database_whole() {
    use diesel::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("entrada.db").display().to_string();
    let env = [("DATABASE_URL", url.as_str())];
    let migrated = cli_with_env(&["migrate"], None, &env);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    // An open connection keeps the shared-memory file in place, so that only the WAL grows.
    let mut keep = entrada::db::establish(&url).unwrap();
    entrada::per_backend!(&mut keep, c => diesel::sql_query("SELECT 1").execute(c)).unwrap();

    // `demo` writes ~24 KB of WAL; writes past 16 KiB fail (EFBIG; SIGXFSZ ignored).
    let limited = Command::new("bash")
        .args(["-c", "trap '' XFSZ; ulimit -f 16; exec \"$0\" demo", env!("CARGO_BIN_EXE_entrada")])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&limited.stderr);
    assert_eq!(limited.status.code(), Some(1), "stdout: {} stderr: {err}", String::from_utf8_lossy(&limited.stdout));
    assert!(err.contains("disk I/O error") || err.contains("full"), "{err}");

    drop(keep);
    let mut conn = entrada::db::establish(&url).unwrap();
    #[derive(QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let check: Vec<Check> = entrada::per_backend!(&mut conn, c => diesel::sql_query("PRAGMA integrity_check").load(c)).unwrap();
    assert_eq!(check.iter().map(|c| c.integrity_check.as_str()).collect::<Vec<_>>(), ["ok"]);
    drop(conn);
    let created = cli_with_env(&["company", "create", "--shortcode", "after", "--name", "After the failure"], None, &env);
    assert!(created.status.success(), "{}", stderr(&created));
    let passle = cli_with_env(&["passle", "create", "--company", "after", "--name", "Written"], None, &env);
    assert!(passle.status.success(), "{}", stderr(&passle));
}
