//! The timed phases: workers, latency percentiles and the report.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Initial,
    Incremental,
    Seed,
    Read,
}

impl Phase {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Phase::Initial => "initial",
            Phase::Incremental => "incremental",
            Phase::Seed => "seed (untimed)",
            Phase::Read => "read burst",
        }
    }
    pub(crate) fn kinds(self) -> &'static [&'static str] {
        match self {
            Phase::Initial => &["GET filter userName (0 hits)", "POST /Users"],
            Phase::Incremental => &["GET /Users/{id}", "PATCH /Users/{id}"],
            Phase::Seed => &["POST /Users"],
            Phase::Read => &["GET filter userName (1 hit)", "GET filter externalId (1 hit)"],
        }
    }
}

pub(crate) struct Tenant {
    pub(crate) shortcode: String,
    pub(crate) auth: HeaderValue,
}

/// Everything the workers read; built before a phase's clock starts.
pub(crate) struct Shared {
    pub(crate) addr: SocketAddr,
    pub(crate) tag: String,
    pub(crate) tenants: Vec<Tenant>,
    /// initial: item k = tenant k % T, user k / T
    pub(crate) post_bodies: Vec<Bytes>,
    pub(crate) filter_paths: Vec<String>,
    /// incremental: same item order; empty path when the user was not created
    pub(crate) user_paths: Vec<String>,
    pub(crate) ids: Vec<String>,
    pub(crate) patch_bodies: Vec<Bytes>,
    /// seed: users `users..read_users` of tenant 0
    pub(crate) seed_from: usize,
    /// read burst: (path, expected userName)
    pub(crate) read_queries: Vec<(String, String)>,
}

#[derive(Default)]
pub(crate) struct WorkerOut {
    pub(crate) latencies: Vec<Vec<u32>>,
    pub(crate) errors: u64,
    pub(crate) first_errors: Vec<String>,
    /// initial: (item, id); seed: (user index, id)
    pub(crate) created: Vec<(usize, String)>,
}

impl WorkerOut {
    pub(crate) fn error(&mut self, phase: Phase, what: String) {
        self.errors += 1;
        if self.first_errors.len() < ERRORS_SHOWN {
            self.first_errors.push(format!("[{}] {what}", phase.name()));
        }
    }
}

pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(300).collect();
    if text.len() > s.len() {
        s.push('…');
    }
    s
}

/// One timed request; returns the answer when the status is the expected one.
pub(crate) async fn timed(conn: &mut Conn, out: &mut WorkerOut, kind: usize, phase: Phase, method: Method, path: &str, auth: &HeaderValue, body: Option<Bytes>, expect: u16) -> Option<Bytes> {
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

pub(crate) async fn worker(shared: Arc<Shared>, phase: Phase, next: Arc<AtomicUsize>, total: usize) -> WorkerOut {
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

pub(crate) struct PhaseResult {
    pub(crate) phase: Phase,
    pub(crate) concurrency: usize,
    pub(crate) duration: Duration,
    pub(crate) latencies: Vec<Vec<u32>>,
    pub(crate) errors: u64,
    pub(crate) first_errors: Vec<String>,
    pub(crate) created: Vec<(usize, String)>,
    pub(crate) server_cpu: Option<f64>,
    pub(crate) client_cpu: Option<f64>,
    /// CPU of `postgres` processes (PostgreSQL runs only)
    pub(crate) db_cpu: Option<f64>,
    /// busy CPU of everything else on the machine during the phase
    pub(crate) other_cpu: Option<f64>,
    pub(crate) server_hwm_mib: Option<f64>,
}

pub(crate) async fn run_phase(shared: &Arc<Shared>, phase: Phase, total: usize, concurrency: usize, server_pid: Option<u32>, postgres: bool) -> PhaseResult {
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

pub(crate) fn percentile_ms(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

pub(crate) fn print_header() {
    println!(
        "\n{:<31} {:>8} {:>8} {:>9} {:>7} {:>7} {:>7} {:>8} {:>6} {:>8} {:>8} {:>7} {:>8} {:>9}",
        "phase", "requests", "time s", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "srv CPU", "cli CPU", "pg CPU", "oth CPU", "srv VmHWM"
    );
}

pub(crate) fn print_phase(r: &PhaseResult) {
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
