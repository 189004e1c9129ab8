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


mod opts;
mod server;
mod metrics;
mod client;
mod entra;
mod phases;

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use entrada::db::Backend;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::Deserialize;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const ERRORS_SHOWN: usize = 5;
const SCIM_JSON: &str = "application/scim+json; charset=utf-8";

use opts::*;
use server::*;
use metrics::*;
use client::*;
use entra::*;
use phases::*;

pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

pub(crate) fn main() -> ExitCode {
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
pub(crate) fn run(opts: Opts) -> Result<bool, String> {
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
            (addr, tenants, opts.server_pid, None)
        }
        None => {
            tag = opts.tag.clone().unwrap_or_default();
            let db_url = match &opts.database_url {
                Some(url) if matches!(Backend::from_url(url), Ok(Backend::Postgres)) => {
                    let db = PgDb::create(url)?;
                    let u = db.url();
                    pg = Some(db);
                    u
                }
                Some(other) => return Err(format!("--database-url: only postgres://… (SQLite is the default), got {other:?}")),
                None => dir.path().join("entrada.db").display().to_string(),
            };
            let backend = Backend::from_url(&db_url).map_err(|e| e.to_string())?;
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
                .map_err(|e| format!("cannot start {}: {e}", server::entrada_binary().display()))?;
            let pid = child.id();
            server = Some(ServerProc { child, log });
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
            (addr, tenants, Some(pid), Some(backend))
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
            r = drive(&opts, addr, tenants, tag, server_pid, backend, server.as_mut()) => r,
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

pub(crate) async fn wait_healthy(addr: SocketAddr, server: Option<&mut ServerProc>) -> Result<(), String> {
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

pub(crate) async fn drive(
    opts: &Opts,
    addr: SocketAddr,
    tenant_tokens: Vec<(String, String)>,
    tag: String,
    server_pid: Option<u32>,
    backend: Option<Backend>,
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
        "entra_cycle: {} at http://{addr}, server pid {}, tenants={t} users/tenant={u} concurrency={} \
         read-users={} read-requests={} seed-concurrency={} tag={:?}",
        backend.map_or("external server", Backend::name),
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
    let postgres = backend == Some(Backend::Postgres);
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
