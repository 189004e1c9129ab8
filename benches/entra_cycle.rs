//! `cargo bench --bench entra_cycle -- [options]`: a load generator that behaves like the
//! Microsoft Entra provisioning service against a real `entrada` server.
//!
//! It starts the release binary on 127.0.0.1 with a fresh database (a SQLite file in a temp
//! dir, or a PostgreSQL database it creates and drops), creates T tenants with the CLI, and
//! runs timed phases over keep-alive HTTP/1.1 connections:
//!
//! * initial:     per user `GET /Users?filter=userName eq "…"` (200, 0 results) + `POST /Users` (201)
//! * incremental: per user `GET /Users/{id}` (200) + `PATCH` in Entra's old dialect (200)
//! * seed:        tenant 1 grown to R users with `POST /Users` (untimed against targets)
//! * read burst:  N filters on tenant 1, alternating `userName eq` / `externalId eq` (200, 1 result)
//!
//! Every loop has a fixed count and every request a 30 s timeout; the tool stops by itself and
//! exits 1 when any phase saw an unexpected status, body or transport error.
//! See docs/performance.md for how to run it and the measured baseline.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::Deserialize;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const ERRORS_SHOWN: usize = 5;
const SCIM_JSON: &str = "application/scim+json; charset=utf-8";

// ---------------------------------------------------------------------------------------------
// Options

#[derive(Debug, Clone)]
struct Opts {
    tenants: usize,
    users: usize,
    concurrency: usize,
    read_users: usize,
    read_requests: usize,
    seed_concurrency: usize,
    database_url: Option<String>,
    url: Option<String>,
    tokens_file: Option<PathBuf>,
    server_pid: Option<u32>,
    pool_size: Option<String>,
    tag: Option<String>,
    skip: Vec<String>,
    deadline_secs: u64,
}

const USAGE: &str = "\
entra_cycle: Entra-like SCIM load against a local entrada server

  cargo bench --bench entra_cycle -- [options]

  --tenants T            tenants b0001… (default 20)
  --users U              users per tenant in the initial/incremental phases (default 1000)
  --concurrency C        concurrent keep-alive connections, spread over the tenants (default 16)
  --read-users R         tenant b0001 is grown to R users before the read burst (default 100000)
  --read-requests N      filter queries in the read burst (default 50000)
  --seed-concurrency S   connections used to seed tenant b0001 up to R users (default 32)
  --quick                smoke preset: T=2 U=50 R=1000 N=2000
  --database-url URL     postgres://user@127.0.0.1:5432 : a fresh database is CREATEd on that
                         server (any database name in URL is ignored) and DROPped at the end;
                         default: a SQLite file in a temporary directory
  --pool-size P          DATABASE_POOL_SIZE for the started server (default: server default)
  --url http://127.0.0.1:PORT  use an already running server instead of starting one
  --tokens-file FILE     with --url: lines `shortcode token`; the first T are used
  --server-pid PID       with --url: read the server's VmHWM/CPU from /proc/PID
  --tag X                suffix for user names (default: empty when the server is started here,
                         time-based with --url so that runs do not collide)
  --skip PHASE           skip a phase (incremental, read); may be repeated
  --deadline SECS        stop (cleanly, exit 1) after this long (default 3600)
";

fn parse_opts() -> Result<Opts, String> {
    let mut o = Opts {
        tenants: 20,
        users: 1000,
        concurrency: 16,
        read_users: 100_000,
        read_requests: 50_000,
        seed_concurrency: 32,
        database_url: None,
        url: None,
        tokens_file: None,
        server_pid: None,
        pool_size: None,
        tag: None,
        skip: Vec::new(),
        deadline_secs: 3600,
    };
    let mut args = std::env::args().skip(1);
    fn num(name: &str, v: Option<String>) -> Result<usize, String> {
        let v = v.ok_or_else(|| format!("{name} needs a value"))?;
        v.replace('_', "").parse::<usize>().map_err(|_| format!("{name}: not a number: {v:?}"))
    }
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // cargo bench passes --bench to harness = false targets
            "--bench" => {}
            "-h" | "--help" => return Err(String::new()),
            "--quick" => {
                o.tenants = 2;
                o.users = 50;
                o.read_users = 1000;
                o.read_requests = 2000;
            }
            "--tenants" => o.tenants = num(&arg, args.next())?,
            "--users" => o.users = num(&arg, args.next())?,
            "--concurrency" => o.concurrency = num(&arg, args.next())?,
            "--read-users" => o.read_users = num(&arg, args.next())?,
            "--read-requests" => o.read_requests = num(&arg, args.next())?,
            "--seed-concurrency" => o.seed_concurrency = num(&arg, args.next())?,
            "--database-url" => o.database_url = Some(args.next().ok_or("--database-url needs a value")?),
            "--url" => o.url = Some(args.next().ok_or("--url needs a value")?),
            "--tokens-file" => o.tokens_file = Some(PathBuf::from(args.next().ok_or("--tokens-file needs a value")?)),
            "--server-pid" => o.server_pid = Some(num(&arg, args.next())? as u32),
            "--pool-size" => o.pool_size = Some(num(&arg, args.next())?.to_string()),
            "--tag" => o.tag = Some(args.next().ok_or("--tag needs a value")?),
            "--skip" => o.skip.push(args.next().ok_or("--skip needs a value")?),
            "--deadline" => o.deadline_secs = num(&arg, args.next())? as u64,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if o.tenants == 0 || o.tenants > 9999 || o.concurrency == 0 || o.seed_concurrency == 0 {
        return Err("--tenants must be 1..=9999, concurrencies at least 1".into());
    }
    if o.url.is_some() != o.tokens_file.is_some() {
        return Err("--url and --tokens-file go together".into());
    }
    if o.url.is_some() && o.database_url.is_some() {
        return Err("--database-url is for a server started here, not with --url".into());
    }
    if let Some(tag) = &o.tag
        && !tag.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err("--tag: letters and digits only".into());
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// Server process, database and tenants

/// The started server; killed (SIGTERM, then SIGKILL) when dropped.
struct ServerProc {
    child: Child,
    log: PathBuf,
}

impl ServerProc {
    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
            for _ in 0..150 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A PostgreSQL database created for this run, dropped at the end.
struct PgDb {
    server: String,
    name: String,
}

impl PgDb {
    fn create(url: &str) -> Result<PgDb, String> {
        use diesel::{Connection, RunQueryDsl};
        let (scheme, rest) = url.split_once("://").ok_or("--database-url: expected postgres://…")?;
        let (authority, query) = match rest.split_once('/') {
            Some((a, path)) => (a, path.split_once('?').map(|(_, q)| q)),
            None => (rest.split_once('?').map_or(rest, |(a, _)| a), rest.split_once('?').map(|(_, q)| q)),
        };
        let host = authority.rsplit('@').next().unwrap_or(authority);
        if !(host.starts_with("127.0.0.1") || host.starts_with("localhost")) {
            return Err(format!("--database-url must point at 127.0.0.1, not {host}"));
        }
        let server = format!("{scheme}://{authority}");
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let name = format!("entrada_bench_{}_{secs}", std::process::id());
        entrada::db::init_postgres_client();
        let mut admin = diesel::PgConnection::establish(&format!("{server}/postgres{query}"))
            .map_err(|e| format!("cannot connect to {server}/postgres: {e}"))?;
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
        Ok(PgDb { server: format!("{server}|{query}"), name })
    }

    fn url(&self) -> String {
        let (server, query) = self.server.split_once('|').unwrap_or((&self.server, ""));
        format!("{server}/{}{query}", self.name)
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        use diesel::{Connection, RunQueryDsl};
        let (server, query) = self.server.split_once('|').unwrap_or((&self.server, ""));
        match diesel::PgConnection::establish(&format!("{server}/postgres{query}")) {
            Ok(mut admin) => {
                if let Err(e) = diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut admin) {
                    eprintln!("warning: DROP DATABASE {}: {e}", self.name);
                }
            }
            Err(e) => eprintln!("warning: could not drop database {}: {e}", self.name),
        }
    }
}

fn server_command(db_url: &str, dir: &Path, port: u16, pool_size: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_entrada"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db_url)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .current_dir(dir)
        .stdin(Stdio::null());
    if let Some(p) = pool_size {
        command.env("DATABASE_POOL_SIZE", p);
    }
    command
}

fn cli(db_url: &str, dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = server_command(db_url, dir, 9, None)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run entrada: {e}"))?;
    if !out.status.success() {
        return Err(format!("entrada {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `company create` + `token generate` for each tenant, four CLI processes at a time.
fn create_tenants(db_url: &str, dir: &Path, count: usize) -> Result<Vec<(String, String)>, String> {
    cli(db_url, dir, &["migrate"])?;
    let codes: Vec<String> = (1..=count).map(|i| format!("b{i:04}")).collect();
    let mut out = Vec::with_capacity(count);
    for chunk in codes.chunks(4) {
        let results: Vec<Result<(String, String), String>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|code| {
                    s.spawn(move || {
                        let name = format!("Bench {code}");
                        cli(db_url, dir, &["company", "create", "--shortcode", code, "--name", &name, "--enable-entra"])?;
                        let printed = cli(db_url, dir, &["token", "generate", "--company", code])?;
                        let token = printed
                            .lines()
                            .find_map(|l| l.strip_prefix("Secret token:"))
                            .map(|t| t.trim().to_owned())
                            .ok_or_else(|| format!("no `Secret token:` line in {printed:?}"))?;
                        Ok((code.clone(), token))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("CLI thread panicked".into()))).collect()
        });
        for r in results {
            out.push(r?);
        }
    }
    Ok(out)
}

fn read_tokens_file(path: &Path, count: usize) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let tenants: Vec<(String, String)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
        })
        .take(count)
        .collect();
    if tenants.len() < count {
        return Err(format!("{} has {} `shortcode token` lines, --tenants asks for {count}", path.display(), tenants.len()));
    }
    Ok(tenants)
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn parse_local_url(url: &str) -> Result<SocketAddr, String> {
    let rest = url.strip_prefix("http://").ok_or("--url must be http://127.0.0.1:PORT")?;
    let hostport = rest.trim_end_matches('/');
    let hostport = hostport.replace("localhost", "127.0.0.1");
    let addr: SocketAddr = hostport.parse().map_err(|_| format!("--url: cannot parse {url:?} as http://127.0.0.1:PORT"))?;
    if !addr.ip().is_loopback() {
        return Err("--url must point at 127.0.0.1".into());
    }
    Ok(addr)
}

// ---------------------------------------------------------------------------------------------
// /proc readings

/// Peak resident set size (VmHWM) in MiB.
fn vm_hwm_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// User + system CPU seconds of a process (all threads), assuming USER_HZ = 100.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Busy CPU seconds of the whole machine (all cores) since boot, from /proc/stat.
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<f64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0.0);
    Some((total - idle) / 100.0)
}

/// CPU seconds of all live `postgres` processes (the server's backends, but also those of any
/// other client of the same PostgreSQL server).
fn postgres_cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0.0 };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())).map(str::to_owned))
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres"))
        .filter_map(|pid| cpu_seconds(&pid))
        .sum()
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 client: one keep-alive connection per worker

struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn { addr, host: HeaderValue::from_str(&addr.to_string()).expect("host header"), sender: None }
    }

    async fn connect(&mut self) -> Result<(), String> {
        let stream = tokio::net::TcpStream::connect(self.addr).await.map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends one request and reads the whole answer; a transport error drops the connection
    /// (the next request reconnects).
    async fn send(&mut self, method: Method, path: &str, auth: &HeaderValue, body: Option<Bytes>) -> Result<(u16, Bytes), String> {
        let result = tokio::time::timeout(REQUEST_TIMEOUT, self.send_inner(method, path, auth, body)).await;
        let result = result.unwrap_or_else(|_| Err(format!("timeout after {REQUEST_TIMEOUT:?}")));
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    async fn send_inner(&mut self, method: Method, path: &str, auth: &HeaderValue, body: Option<Bytes>) -> Result<(u16, Bytes), String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().expect("connected");
        sender.ready().await.map_err(|e| format!("connection not ready: {e}"))?;
        let mut request = Request::builder().method(method).uri(path).header(HOST, self.host.clone()).header(AUTHORIZATION, auth.clone());
        if body.is_some() {
            request = request.header(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        }
        let request = request.body(Full::new(body.unwrap_or_default())).map_err(|e| format!("request: {e}"))?;
        let response = sender.send_request(request).await.map_err(|e| format!("send: {e}"))?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
        Ok((status, body))
    }
}

// ---------------------------------------------------------------------------------------------
// Entra-shaped data

const GIVEN: [&str; 8] = ["Ines", "Jonas", "Amara", "Kenji", "Sofia", "Mateo", "Leila", "Pieter"];
const TITLES: [&str; 5] = ["Site Lead", "Account Manager", "Engineer", "Analyst", "Field Technician"];
const DEPARTMENTS: [&str; 4] = ["Operations", "Sales", "Research", "Finance"];

fn local_part(i: usize, tag: &str) -> String {
    if tag.is_empty() { format!("user{i:06}") } else { format!("user{i:06}.{tag}") }
}

fn user_name(i: usize, tag: &str, shortcode: &str) -> String {
    format!("{}@{shortcode}.example", local_part(i, tag))
}

/// The body Entra POSTs for a new user (core + enterprise extension), like tests/api/helpers.rs.
fn entra_user_body(i: usize, tag: &str, shortcode: &str) -> Bytes {
    let local = local_part(i, tag);
    let given = GIVEN[i % GIVEN.len()];
    let family = format!("Family{i:06}");
    let title = TITLES[i % TITLES.len()];
    let department = DEPARTMENTS[i % DEPARTMENTS.len()];
    let mut s = String::with_capacity(900);
    let _ = write!(
        s,
        concat!(
            r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"#,
            r#""externalId":"{local}","userName":"{local}@{sc}.example","active":true,"displayName":"{given} {family}","#,
            r#""title":"{title}","emails":[{{"primary":true,"type":"work","value":"{local}@{sc}.example"}}],"#,
            r#""name":{{"formatted":"{given} {family}","givenName":"{given}","familyName":"{family}"}},"#,
            r#""phoneNumbers":[{{"type":"work","value":"+33 1 {p1:02} {p2:02} {p3:02} {p4:02}"}},{{"type":"mobile","value":"+33 6 {p4:02} {p3:02} {p2:02} {p1:02}"}}],"#,
            r#""urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{{"department":"{department}","employeeNumber":"E-{i:06}"}},"#,
            r#""meta":{{"resourceType":"User"}},"roles":[]}}"#
        ),
        local = local,
        sc = shortcode,
        given = given,
        family = family,
        title = title,
        department = department,
        i = i,
        p1 = i % 100,
        p2 = (i / 100) % 100,
        p3 = (i / 10_000) % 100,
        p4 = (i * 7) % 100,
    );
    Bytes::from(s)
}

fn moved_email(i: usize, tag: &str, shortcode: &str) -> String {
    format!("{}.moved@{shortcode}.example", local_part(i, tag))
}

/// The PATCH Entra sends in its old dialect: a filtered email path, and for 10% of the users
/// a disable with a string boolean.
fn entra_patch_body(i: usize, tag: &str, shortcode: &str) -> Bytes {
    let email = moved_email(i, tag, shortcode);
    let disable = if deactivated(i) { r#",{"op":"Replace","path":"active","value":"False"}"# } else { "" };
    Bytes::from(format!(
        r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"Replace","path":"emails[type eq \"work\"].value","value":"{email}"}}{disable}]}}"#
    ))
}

fn deactivated(i: usize) -> bool {
    i % 10 == 3
}

/// `filter=attr+eq+%22value%22` the way Entra encodes it.
fn filter_path(shortcode: &str, attr: &str, value: &str) -> String {
    let mut s = format!("/scim/{shortcode}/v2/Users?filter={attr}+eq+%22");
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(b as char);
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s.push_str("%22");
    s
}

#[derive(Deserialize)]
struct ListResp {
    #[serde(rename = "totalResults")]
    total: u64,
    #[serde(rename = "Resources", default)]
    resources: Vec<UserResp>,
}

#[derive(Deserialize)]
struct UserResp {
    #[serde(default)]
    id: String,
    #[serde(rename = "userName", default)]
    user_name: String,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    emails: Vec<EmailResp>,
}

#[derive(Deserialize)]
struct EmailResp {
    #[serde(default)]
    value: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Phases

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Initial,
    Incremental,
    Seed,
    Read,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Initial => "initial",
            Phase::Incremental => "incremental",
            Phase::Seed => "seed (untimed)",
            Phase::Read => "read burst",
        }
    }
    fn kinds(self) -> &'static [&'static str] {
        match self {
            Phase::Initial => &["GET filter userName (0 hits)", "POST /Users"],
            Phase::Incremental => &["GET /Users/{id}", "PATCH /Users/{id}"],
            Phase::Seed => &["POST /Users"],
            Phase::Read => &["GET filter userName (1 hit)", "GET filter externalId (1 hit)"],
        }
    }
}

struct Tenant {
    shortcode: String,
    auth: HeaderValue,
}

/// Everything the workers read; built before a phase's clock starts.
struct Shared {
    addr: SocketAddr,
    tag: String,
    tenants: Vec<Tenant>,
    /// initial: item k = tenant k % T, user k / T
    post_bodies: Vec<Bytes>,
    filter_paths: Vec<String>,
    /// incremental: same item order; empty path when the user was not created
    user_paths: Vec<String>,
    ids: Vec<String>,
    patch_bodies: Vec<Bytes>,
    /// seed: users `users..read_users` of tenant 0
    seed_from: usize,
    /// read burst: (path, expected userName)
    read_queries: Vec<(String, String)>,
}

#[derive(Default)]
struct WorkerOut {
    latencies: Vec<Vec<u32>>,
    errors: u64,
    first_errors: Vec<String>,
    /// initial: (item, id); seed: (user index, id)
    created: Vec<(usize, String)>,
}

impl WorkerOut {
    fn error(&mut self, phase: Phase, what: String) {
        self.errors += 1;
        if self.first_errors.len() < ERRORS_SHOWN {
            self.first_errors.push(format!("[{}] {what}", phase.name()));
        }
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(300).collect();
    if text.len() > s.len() {
        s.push('…');
    }
    s
}

/// One timed request; returns the answer when the status is the expected one.
async fn timed(conn: &mut Conn, out: &mut WorkerOut, kind: usize, phase: Phase, method: Method, path: &str, auth: &HeaderValue, body: Option<Bytes>, expect: u16) -> Option<Bytes> {
    let start = Instant::now();
    let result = conn.send(method.clone(), path, auth, body).await;
    let micros = start.elapsed().as_micros().min(u32::MAX as u128) as u32;
    out.latencies[kind].push(micros);
    match result {
        Ok((status, body)) if status == expect => Some(body),
        Ok((status, body)) => {
            out.error(phase, format!("{method} {path}: {status} (expected {expect}) {}", snippet(&body)));
            None
        }
        Err(e) => {
            out.error(phase, format!("{method} {path}: {e}"));
            None
        }
    }
}

async fn worker(shared: Arc<Shared>, phase: Phase, next: Arc<AtomicUsize>, total: usize) -> WorkerOut {
    let mut out = WorkerOut { latencies: vec![Vec::with_capacity(total / 8 + 16); phase.kinds().len()], ..Default::default() };
    let mut conn = Conn::new(shared.addr);
    let t = shared.tenants.len();
    loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        if k >= total {
            break;
        }
        match phase {
            Phase::Initial => {
                let tenant = &shared.tenants[k % t];
                let path = &shared.filter_paths[k];
                let Some(body) = timed(&mut conn, &mut out, 0, phase, Method::GET, path, &tenant.auth, None, 200).await else { continue };
                match serde_json::from_slice::<ListResp>(&body) {
                    Ok(list) if list.total == 0 => {}
                    Ok(list) => {
                        out.error(phase, format!("GET {path}: totalResults {} (expected 0)", list.total));
                        continue;
                    }
                    Err(e) => {
                        out.error(phase, format!("GET {path}: not a ListResponse ({e}): {}", snippet(&body)));
                        continue;
                    }
                }
                let users_path = format!("/scim/{}/v2/Users", tenant.shortcode);
                let post = shared.post_bodies[k].clone();
                let Some(body) = timed(&mut conn, &mut out, 1, phase, Method::POST, &users_path, &tenant.auth, Some(post), 201).await else { continue };
                let expected = user_name(k / t, &shared.tag, &tenant.shortcode);
                match serde_json::from_slice::<UserResp>(&body) {
                    Ok(user) if !user.id.is_empty() && user.user_name.eq_ignore_ascii_case(&expected) => out.created.push((k, user.id)),
                    _ => out.error(phase, format!("POST {users_path}: unexpected body {}", snippet(&body))),
                }
            }
            Phase::Incremental => {
                let path = &shared.user_paths[k];
                if path.is_empty() {
                    continue; // not created in the initial phase (already counted there)
                }
                let tenant = &shared.tenants[k % t];
                let Some(body) = timed(&mut conn, &mut out, 0, phase, Method::GET, path, &tenant.auth, None, 200).await else { continue };
                match serde_json::from_slice::<UserResp>(&body) {
                    Ok(user) if user.id == shared.ids[k] => {}
                    _ => {
                        out.error(phase, format!("GET {path}: unexpected body {}", snippet(&body)));
                        continue;
                    }
                }
                let patch = shared.patch_bodies[k].clone();
                let Some(body) = timed(&mut conn, &mut out, 1, phase, Method::PATCH, path, &tenant.auth, Some(patch), 200).await else { continue };
                let i = k / t;
                let email = moved_email(i, &shared.tag, &tenant.shortcode);
                let ok = serde_json::from_slice::<UserResp>(&body).is_ok_and(|user| {
                    user.active == Some(!deactivated(i))
                        && user.emails.iter().any(|e| e.value == email && e.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("work")))
                });
                if !ok {
                    out.error(phase, format!("PATCH {path}: email/active not applied: {}", snippet(&body)));
                }
            }
            Phase::Seed => {
                let tenant = &shared.tenants[0];
                let i = shared.seed_from + k;
                let users_path = format!("/scim/{}/v2/Users", tenant.shortcode);
                let post = entra_user_body(i, &shared.tag, &tenant.shortcode);
                let Some(body) = timed(&mut conn, &mut out, 0, phase, Method::POST, &users_path, &tenant.auth, Some(post), 201).await else { continue };
                match serde_json::from_slice::<UserResp>(&body) {
                    Ok(user) if !user.id.is_empty() => out.created.push((i, user.id)),
                    _ => out.error(phase, format!("POST {users_path}: unexpected body {}", snippet(&body))),
                }
            }
            Phase::Read => {
                let tenant = &shared.tenants[0];
                let (path, expected) = &shared.read_queries[k];
                let Some(body) = timed(&mut conn, &mut out, k % 2, phase, Method::GET, path, &tenant.auth, None, 200).await else { continue };
                match serde_json::from_slice::<ListResp>(&body) {
                    Ok(list) if list.total == 1 && list.resources.len() == 1 && list.resources[0].user_name.eq_ignore_ascii_case(expected) => {}
                    _ => out.error(phase, format!("GET {path}: expected exactly {expected}: {}", snippet(&body))),
                }
            }
        }
    }
    out
}

struct PhaseResult {
    phase: Phase,
    concurrency: usize,
    duration: Duration,
    latencies: Vec<Vec<u32>>,
    errors: u64,
    first_errors: Vec<String>,
    created: Vec<(usize, String)>,
    server_cpu: Option<f64>,
    client_cpu: Option<f64>,
    /// CPU of `postgres` processes (PostgreSQL runs only)
    db_cpu: Option<f64>,
    /// busy CPU of everything else on the machine during the phase
    other_cpu: Option<f64>,
    server_hwm_mib: Option<f64>,
}

async fn run_phase(shared: &Arc<Shared>, phase: Phase, total: usize, concurrency: usize, server_pid: Option<u32>, postgres: bool) -> PhaseResult {
    let concurrency = concurrency.min(total.max(1));
    let server_pid_s = server_pid.map(|p| p.to_string());
    let server_cpu0 = server_pid_s.as_deref().and_then(cpu_seconds);
    let client_cpu0 = cpu_seconds("self");
    let machine0 = machine_busy_seconds();
    let db0 = postgres.then(postgres_cpu_seconds);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..concurrency).map(|_| tokio::spawn(worker(shared.clone(), phase, next.clone(), total))).collect();
    let mut result = PhaseResult {
        phase,
        concurrency,
        duration: Duration::ZERO,
        latencies: vec![Vec::new(); phase.kinds().len()],
        errors: 0,
        first_errors: Vec::new(),
        created: Vec::new(),
        server_cpu: None,
        client_cpu: None,
        db_cpu: None,
        other_cpu: None,
        server_hwm_mib: None,
    };
    for handle in handles {
        match handle.await {
            Ok(out) => {
                for (all, mine) in result.latencies.iter_mut().zip(out.latencies) {
                    all.extend(mine);
                }
                result.errors += out.errors;
                for e in out.first_errors {
                    if result.first_errors.len() < ERRORS_SHOWN {
                        result.first_errors.push(e);
                    }
                }
                result.created.extend(out.created);
            }
            Err(e) => {
                result.errors += 1;
                result.first_errors.push(format!("worker failed: {e}"));
            }
        }
    }
    result.duration = start.elapsed();
    result.server_cpu = server_pid_s.as_deref().and_then(cpu_seconds).zip(server_cpu0).map(|(b, a)| b - a);
    result.client_cpu = cpu_seconds("self").zip(client_cpu0).map(|(b, a)| b - a);
    result.server_hwm_mib = server_pid.and_then(vm_hwm_mib);
    result.db_cpu = db0.map(|a| (postgres_cpu_seconds() - a).max(0.0));
    if let (Some(a), Some(b), Some(s), Some(c)) = (machine0, machine_busy_seconds(), result.server_cpu, result.client_cpu) {
        result.other_cpu = Some((b - a - s - c - result.db_cpu.unwrap_or(0.0)).max(0.0));
    }
    for l in &mut result.latencies {
        l.sort_unstable();
    }
    result
}

fn percentile_ms(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

fn print_header() {
    println!(
        "\n{:<31} {:>8} {:>8} {:>9} {:>7} {:>7} {:>7} {:>8} {:>6} {:>8} {:>8} {:>7} {:>8} {:>9}",
        "phase", "requests", "time s", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "srv CPU", "cli CPU", "pg CPU", "oth CPU", "srv VmHWM"
    );
}

fn print_phase(r: &PhaseResult) {
    let secs = r.duration.as_secs_f64();
    let mut all: Vec<u32> = r.latencies.iter().flatten().copied().collect();
    all.sort_unstable();
    let pct = |cpu: Option<f64>| cpu.map(|c| format!("{:.0}%", 100.0 * c / secs)).unwrap_or_else(|| "-".into());
    let row = |label: &str, lat: &[u32], errors: String, extra: bool| {
        println!(
            "{:<31} {:>8} {:>8.2} {:>9.0} {:>7.2} {:>7.2} {:>7.2} {:>8.1} {:>6} {:>8} {:>8} {:>7} {:>8} {:>9}",
            label,
            lat.len(),
            secs,
            lat.len() as f64 / secs,
            percentile_ms(lat, 0.50),
            percentile_ms(lat, 0.95),
            percentile_ms(lat, 0.99),
            lat.last().map_or(f64::NAN, |&m| m as f64 / 1000.0),
            errors,
            if extra { pct(r.server_cpu) } else { String::new() },
            if extra { pct(r.client_cpu) } else { String::new() },
            if extra { pct(r.db_cpu) } else { String::new() },
            if extra { pct(r.other_cpu) } else { String::new() },
            if extra { r.server_hwm_mib.map(|m| format!("{m:.1} MiB")).unwrap_or_else(|| "-".into()) } else { String::new() },
        );
    };
    row(&format!("{} (c={})", r.phase.name(), r.concurrency), &all, r.errors.to_string(), true);
    if r.latencies.len() > 1 {
        for (kind, lat) in r.phase.kinds().iter().zip(&r.latencies) {
            row(&format!("  {kind}"), lat, String::new(), false);
        }
    }
    for e in &r.first_errors {
        println!("    ! {e}");
    }
    let _ = std::io::stdout().flush();
}

// ---------------------------------------------------------------------------------------------

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn main() -> ExitCode {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}\n");
            }
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// `Ok(true)` when every phase ran without errors.
fn run(opts: Opts) -> Result<bool, String> {
    let dir = tempfile::Builder::new().prefix("entra-cycle-").tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let mut pg: Option<PgDb> = None;
    let mut server: Option<ServerProc> = None;
    let tag;
    let (addr, tenants, server_pid, backend) = match &opts.url {
        Some(url) => {
            let addr = parse_local_url(url)?;
            let tenants = read_tokens_file(opts.tokens_file.as_deref().expect("checked"), opts.tenants)?;
            let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            tag = opts.tag.clone().unwrap_or_else(|| format!("r{secs:x}"));
            (addr, tenants, opts.server_pid, "external server".to_owned())
        }
        None => {
            tag = opts.tag.clone().unwrap_or_default();
            let (db_url, backend) = match &opts.database_url {
                Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                    let db = PgDb::create(url)?;
                    let u = db.url();
                    pg = Some(db);
                    (u, "postgresql".to_owned())
                }
                Some(other) => return Err(format!("--database-url: only postgres://… (SQLite is the default), got {other:?}")),
                None => (dir.path().join("entrada.db").display().to_string(), "sqlite".to_owned()),
            };
            let t0 = Instant::now();
            let tenants = create_tenants(&db_url, dir.path(), opts.tenants)?;
            println!("created {} tenants with the CLI in {:.1} s", tenants.len(), t0.elapsed().as_secs_f64());
            let port = free_port()?;
            let log = dir.path().join("server.log");
            let log_file = std::fs::File::create(&log).map_err(|e| format!("server log: {e}"))?;
            let child = server_command(&db_url, dir.path(), port, opts.pool_size.as_deref())
                .arg("serve")
                .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
                .stderr(log_file)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", env!("CARGO_BIN_EXE_entrada")))?;
            let pid = child.id();
            server = Some(ServerProc { child, log });
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
            (addr, tenants, Some(pid), backend)
        }
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let deadline = Duration::from_secs(opts.deadline_secs);
    let ok = runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| format!("SIGTERM handler: {e}"))?;
        tokio::select! {
            r = drive(&opts, addr, tenants, tag, server_pid, &backend, server.as_mut()) => r,
            _ = tokio::time::sleep(deadline) => Err(format!("stopped after --deadline {} s", opts.deadline_secs)),
            _ = tokio::signal::ctrl_c() => Err("interrupted (SIGINT)".to_owned()),
            _ = term.recv() => Err("interrupted (SIGTERM)".to_owned()),
        }
    });
    // the server, the temporary directory and the PostgreSQL database are cleaned up below
    // even when the run was cut short
    drop(runtime);

    if let Some(mut s) = server.take() {
        s.stop();
        let log = std::fs::read_to_string(&s.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
        let notable: Vec<&&str> = lines.iter().filter(|l| l.contains("WARN") || l.contains("ERROR")).collect();
        println!("\nserver log (RUST_LOG=warn): {} lines, {} WARN/ERROR", lines.len(), notable.len());
        let shown: Vec<&str> = if lines.len() <= 5 { lines.clone() } else { notable.iter().map(|l| **l).collect() };
        for line in shown.iter().take(10) {
            println!("  {}", line.chars().take(400).collect::<String>());
        }
        if notable.len() > 10 {
            println!("  … ({} more)", notable.len() - 10);
        }
    }
    drop(pg);
    ok
}

async fn wait_healthy(addr: SocketAddr, server: Option<&mut ServerProc>) -> Result<(), String> {
    let mut conn = Conn::new(addr);
    let none = HeaderValue::from_static("none");
    let mut server = server;
    for _ in 0..300 {
        if let Ok((200, _)) = conn.send(Method::GET, "/healthz", &none, None).await {
            return Ok(());
        }
        if let Some(s) = server.as_deref_mut()
            && let Ok(Some(status)) = s.child.try_wait()
        {
            let log = std::fs::read_to_string(&s.log).unwrap_or_default();
            return Err(format!("server exited ({status}) before answering /healthz:\n{log}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("no 200 from http://{addr}/healthz within 30 s"))
}

async fn drive(
    opts: &Opts,
    addr: SocketAddr,
    tenant_tokens: Vec<(String, String)>,
    tag: String,
    server_pid: Option<u32>,
    backend: &str,
    server: Option<&mut ServerProc>,
) -> Result<bool, String> {
    wait_healthy(addr, server).await?;
    let t = tenant_tokens.len();
    let u = opts.users;
    let tenants: Vec<Tenant> = tenant_tokens
        .into_iter()
        .map(|(shortcode, token)| {
            let auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| format!("bad token for {shortcode}"))?;
            Ok(Tenant { shortcode, auth })
        })
        .collect::<Result<_, String>>()?;
    println!(
        "entra_cycle: {backend} at http://{addr}, server pid {}, tenants={t} users/tenant={u} concurrency={} \
         read-users={} read-requests={} seed-concurrency={} tag={:?}",
        server_pid.map_or("?".into(), |p| p.to_string()),
        opts.concurrency,
        opts.read_users,
        opts.read_requests,
        opts.seed_concurrency,
        tag
    );
    println!(
        "machine: {} CPUs, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    if let Some(pid) = server_pid {
        println!("server VmHWM after start: {}", vm_hwm_mib(pid).map_or("-".into(), |m| format!("{m:.1} MiB")));
    }

    let items = t * u;
    let postgres = backend == "postgresql";
    let mut shared = Shared {
        addr,
        tag: tag.clone(),
        tenants,
        post_bodies: Vec::new(),
        filter_paths: Vec::new(),
        user_paths: Vec::new(),
        ids: Vec::new(),
        patch_bodies: Vec::new(),
        seed_from: u,
        read_queries: Vec::new(),
    };
    for k in 0..items {
        let tenant = &shared.tenants[k % t];
        let i = k / t;
        shared.post_bodies.push(entra_user_body(i, &tag, &tenant.shortcode));
        shared.filter_paths.push(filter_path(&tenant.shortcode, "userName", &user_name(i, &tag, &tenant.shortcode)));
        shared.patch_bodies.push(entra_patch_body(i, &tag, &tenant.shortcode));
    }
    let mut results = Vec::new();
    print_header();

    // initial
    let mut shared_arc = Arc::new(shared);
    let initial = run_phase(&shared_arc, Phase::Initial, items, opts.concurrency, server_pid, postgres).await;
    print_phase(&initial);
    let mut shared = Arc::try_unwrap(shared_arc).map_err(|_| "workers still hold the shared state")?;
    shared.ids = vec![String::new(); items];
    for (k, id) in &initial.created {
        shared.ids[*k] = id.clone();
    }
    shared.user_paths = (0..items)
        .map(|k| if shared.ids[k].is_empty() { String::new() } else { format!("/scim/{}/v2/Users/{}", shared.tenants[k % t].shortcode, shared.ids[k]) })
        .collect();
    shared.post_bodies = Vec::new();
    shared.filter_paths = Vec::new();
    // tenant 0's users that exist (for the read burst)
    let mut existing: Vec<usize> = initial.created.iter().filter(|(k, _)| k % t == 0).map(|(k, _)| k / t).collect();
    results.push(initial);

    // incremental
    shared_arc = Arc::new(shared);
    if !opts.skip.iter().any(|s| s == "incremental") {
        let incremental = run_phase(&shared_arc, Phase::Incremental, items, opts.concurrency, server_pid, postgres).await;
        print_phase(&incremental);
        results.push(incremental);
    }

    if !opts.skip.iter().any(|s| s == "read") && opts.read_requests > 0 {
        // seed tenant 0 up to R users
        let to_seed = opts.read_users.saturating_sub(u);
        if to_seed > 0 {
            let seed = run_phase(&shared_arc, Phase::Seed, to_seed, opts.seed_concurrency, server_pid, postgres).await;
            print_phase(&seed);
            existing.extend(seed.created.iter().map(|(i, _)| *i));
            results.push(seed);
        }
        let mut shared = Arc::try_unwrap(shared_arc).map_err(|_| "workers still hold the shared state")?;
        if existing.is_empty() {
            return Err("no user of the first tenant exists; cannot run the read burst".into());
        }
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let sc = shared.tenants[0].shortcode.clone();
        shared.read_queries = (0..opts.read_requests)
            .map(|j| {
                let i = existing[(rng.next() % existing.len() as u64) as usize];
                let name = user_name(i, &tag, &sc);
                let path = if j % 2 == 0 { filter_path(&sc, "userName", &name) } else { filter_path(&sc, "externalId", &local_part(i, &tag)) };
                (path, name)
            })
            .collect();
        shared_arc = Arc::new(shared);
        println!("(read burst on tenant {sc} with {} users)", existing.len());
        let read = run_phase(&shared_arc, Phase::Read, opts.read_requests, opts.concurrency, server_pid, postgres).await;
        print_phase(&read);
        results.push(read);
    }
    drop(shared_arc);

    let errors: u64 = results.iter().map(|r| r.errors).sum();
    println!(
        "\nserver peak RSS (VmHWM): {}   total errors: {errors}",
        server_pid.and_then(vm_hwm_mib).map_or("-".into(), |m| format!("{m:.1} MiB"))
    );
    Ok(errors == 0)
}
