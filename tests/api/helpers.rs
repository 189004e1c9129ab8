//! Test harness: every test gets the real server on a random port with its own fresh
//! database (a temporary SQLite file, or a new PostgreSQL database on the local server).

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::{Connection, PgConnection, RunQueryDsl};
use entrada::config::Settings;
use entrada::startup::Application;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the throwaway PostgreSQL databases are created.
fn postgres_server_url() -> String {
    std::env::var("ENTRADA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

fn postgres_required() -> bool {
    std::env::var("ENTRADA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// A fresh, empty database that disappears with the value.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// `None` when PostgreSQL is unreachable and not required (the skip is printed loudly).
    pub fn create(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = dir.path().join("entrada.db").display().to_string();
                Some(TestDb { url, _dir: Some(dir), pg_name: None })
            }
            Backend::Postgres => TestDb::create_postgres(),
        }
    }

    fn create_postgres() -> Option<TestDb> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let server = postgres_server_url();
        entrada::db::init_postgres_client();
        let mut admin = match PgConnection::establish(&format!("{server}/postgres")) {
            Ok(conn) => conn,
            Err(err) if !postgres_required() => {
                eprintln!(
                    "\n*** SKIPPED: PostgreSQL is unreachable at {server} ({err}); \
                     set ENTRADA_REQUIRE_POSTGRES=1 to make this a failure ***\n"
                );
                return None;
            }
            Err(err) => panic!("PostgreSQL is required (ENTRADA_REQUIRE_POSTGRES=1) but unreachable at {server}: {err}"),
        };
        let name = format!(
            "entrada_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            entrada::domain::random_alphanumeric(6).to_lowercase()
        );
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).expect("create database");
        Some(TestDb { url: format!("{server}/{name}"), _dir: None, pg_name: Some(name) })
    }

    /// Runs the `entrada` binary against this database.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        cli_with_env(args, stdin, &[("DATABASE_URL", &self.url)])
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut admin) = PgConnection::establish(&format!("{}/postgres", postgres_server_url()))
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin);
        }
    }
}

/// Runs the `entrada` binary with a clean environment plus `env`.
pub fn cli_with_env(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    use std::io::Write;
    let mut command = Command::new(env!("CARGO_BIN_EXE_entrada"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("run entrada");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("entrada output")
}

/// The Tenant URL and secret token that `entrada token generate` printed.
pub fn token_from(output: &str) -> (String, String) {
    let line = |prefix: &str| {
        output.lines().find_map(|l| l.strip_prefix(prefix)).map(|v| v.trim().to_owned()).expect(prefix)
    };
    (line("Tenant URL:"), line("Secret token:"))
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A running server and a cookie-keeping client.
pub struct TestApp {
    pub address: String,
    pub db: TestDb,
    pub client: reqwest::Client,
}

impl TestApp {
    /// Starts the app on a random port with a fresh database; `None` only for a skipped
    /// PostgreSQL run.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Some(TestApp::spawn_on(TestDb::create(backend)?).await)
    }

    /// Starts the app on a random port with `db` as it is (migrations run at start-up).
    pub async fn spawn_on(db: TestDb) -> TestApp {
        let settings = Settings::from_lookup(|name| match name {
            "DATABASE_URL" => Some(db.url.clone()),
            "BIND" => Some("127.0.0.1:0".to_owned()),
            "DATABASE_POOL_SIZE" => Some("4".to_owned()),
            _ => None,
        })
        .expect("test settings");
        let app = Application::build(settings).await.expect("build app");
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .expect("client");
        TestApp { address, db, client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// `entrada` CLI against this app's database.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        cli_with_env(args, stdin, &[("DATABASE_URL", &self.db.url), ("PUBLIC_URL", &self.address)])
    }
}

/// Declares one test per backend for each listed `async fn name(backend: Backend)`:
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[actix_web::test]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}

/// `let app = spawn!(backend);` — returns early (skip) when PostgreSQL is unavailable.
#[macro_export]
macro_rules! spawn {
    ($backend:expr) => {
        match $crate::helpers::TestApp::spawn($backend).await {
            Some(app) => app,
            None => return,
        }
    };
}

/// `let db = test_db!(backend);` — a fresh database without a server.
#[macro_export]
macro_rules! test_db {
    ($backend:expr) => {
        match $crate::helpers::TestDb::create($backend) {
            Some(db) => db,
            None => return,
        }
    };
}

/// A company's SCIM service as Entra sees it: base URL and token.
pub struct Scim {
    pub base: String,
    pub token: String,
    pub shortcode: String,
    client: reqwest::Client,
}

/// A SCIM answer: status, headers and JSON body (`Value::Null` when empty).
pub struct ScimResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
}

impl ScimResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    /// Direct connection to the app's database (for checks the API does not show).
    pub fn conn(&self) -> entrada::db::AnyConnection {
        entrada::db::Database::connect_single(&self.db.url).expect("connect")
    }

    /// Creates a company (Entra module on) and its SCIM token.
    pub fn scim_company(&self, shortcode: &str) -> Scim {
        use entrada::domain::{CompanyName, Shortcode};
        use entrada::models::Company;
        let code = Shortcode::parse(shortcode).unwrap();
        Company::create(&mut self.conn(), &code, &CompanyName::parse(&format!("Company {shortcode}")).unwrap(), true).unwrap();
        self.scim_token(shortcode)
    }

    /// A new SCIM token for an existing company.
    pub fn scim_token(&self, shortcode: &str) -> Scim {
        use entrada::domain::Shortcode;
        use entrada::models::Company;
        use entrada::models::scim_token::ScimToken;
        let mut conn = self.conn();
        let code = Shortcode::parse(shortcode).unwrap();
        let company = Company::find_by_shortcode(&mut conn, shortcode).unwrap().expect("company");
        let token = ScimToken::rotate(&mut conn, company.company_id(), &code).unwrap();
        Scim {
            base: self.url(&format!("/scim/{shortcode}/v2")),
            token: token.expose().to_owned(),
            shortcode: shortcode.to_owned(),
            client: reqwest::Client::new(),
        }
    }
}

impl Scim {
    /// A client of the SCIM service at `base` (a Tenant URL) with `token`.
    pub fn new(base: String, token: String, shortcode: &str) -> Scim {
        Scim { base, token, shortcode: shortcode.to_owned(), client: reqwest::Client::new() }
    }

    /// Sends a request like Entra: bearer token, `application/scim+json; charset=utf-8` bodies.
    pub async fn send(&self, method: &str, path: &str, body: Option<&serde_json::Value>) -> ScimResponse {
        self.send_with(method, path, body.map(|b| b.to_string()), &[]).await
    }

    /// Full control: raw body text and extra headers (`("Authorization", "")` removes it).
    pub async fn send_with(&self, method: &str, path: &str, body: Option<String>, headers: &[(&str, &str)]) -> ScimResponse {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        let mut auth = Some(format!("Bearer {}", self.token));
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("authorization") {
                auth = (!value.is_empty()).then(|| value.to_string());
            } else {
                request = request.header(*name, *value);
            }
        }
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        if let Some(body) = body {
            if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
                request = request.header("Content-Type", "application/scim+json; charset=utf-8");
            }
            request = request.body(body);
        }
        let response = request.send().await.expect("SCIM request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() { serde_json::Value::Null } else { serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")) };
        ScimResponse { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> ScimResponse {
        self.send("GET", path, None).await
    }
    pub async fn post(&self, path: &str, body: serde_json::Value) -> ScimResponse {
        self.send("POST", path, Some(&body)).await
    }
    pub async fn patch(&self, path: &str, body: serde_json::Value) -> ScimResponse {
        self.send("PATCH", path, Some(&body)).await
    }
    pub async fn put(&self, path: &str, body: serde_json::Value) -> ScimResponse {
        self.send("PUT", path, Some(&body)).await
    }
    pub async fn delete(&self, path: &str) -> ScimResponse {
        self.send("DELETE", path, None).await
    }

    /// `GET /Users?filter=…` with the filter URL-encoded the way Entra does (`+` for spaces).
    pub async fn filter_users(&self, filter: &str) -> ScimResponse {
        let encoded = serde_urlencoded::to_string([("filter", filter)]).unwrap();
        self.get(&format!("/Users?{encoded}")).await
    }

    /// POSTs a typical Entra user and returns its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        let response = self.post("/Users", entra_user(user_name)).await;
        assert_eq!(response.status, 201, "{}", response.body);
        response.body["id"].as_str().unwrap().to_owned()
    }
}

/// The body Entra POSTs for a new user (core + enterprise extension).
pub fn entra_user(user_name: &str) -> serde_json::Value {
    let local = user_name.split('@').next().unwrap_or(user_name);
    serde_json::json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "externalId": local,
        "userName": user_name,
        "active": true,
        "displayName": format!("Display {local}"),
        "title": "Site Lead",
        "emails": [{ "primary": true, "type": "work", "value": user_name }],
        "name": { "formatted": format!("Given {local}"), "givenName": "Given", "familyName": local },
        "phoneNumbers": [{ "type": "mobile", "value": "+33 6 00 00 00 17" }],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": "Operations",
            "employeeNumber": "E-20931"
        },
        "meta": { "resourceType": "User" },
        "roles": []
    })
}

/// Wraps operations in a PatchOp message.
pub fn patch_op(operations: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations })
}

impl TestApp {
    /// This app's SCIM service seen with any token (e.g. one an admin generated in the portal).
    pub fn scim_with_token(&self, shortcode: &str, token: &str) -> Scim {
        Scim {
            base: self.url(&format!("/scim/{shortcode}/v2")),
            token: token.to_owned(),
            shortcode: shortcode.to_owned(),
            client: reqwest::Client::new(),
        }
    }
}

// ----- Groups (used by scim_groups and group_mappings) -----

impl TestApp {
    /// Turns the company's group-provisioning switch (off by default) on or off.
    pub fn set_groups_enabled(&self, shortcode: &str, on: bool) {
        use entrada::models::Company;
        let mut conn = self.conn();
        let company = Company::find_by_shortcode(&mut conn, shortcode).unwrap().expect("company");
        Company::set_groups_enabled(&mut conn, company.company_id(), on).unwrap();
    }
}

impl Scim {
    /// POSTs a group the way Entra does (no members) and returns its id.
    pub async fn create_group(&self, display_name: &str) -> String {
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": format!("ext-{}", display_name.to_lowercase().replace(' ', "-")),
            "displayName": display_name,
            "meta": { "resourceType": "Group" }
        });
        let response = self.post("/Groups", body).await;
        assert_eq!(response.status, 201, "POST /Groups {display_name}: {}", response.body);
        response.body["id"].as_str().unwrap().to_owned()
    }

    /// `GET /Groups?excludedAttributes=members&filter=…` (when `exclude_members`) encoded as Entra does.
    pub async fn filter_groups(&self, filter: &str, exclude_members: bool) -> ScimResponse {
        let encoded = serde_urlencoded::to_string([("filter", filter)]).unwrap();
        let excluded = if exclude_members { "excludedAttributes=members&" } else { "" };
        self.get(&format!("/Groups?{excluded}{encoded}")).await
    }
}
