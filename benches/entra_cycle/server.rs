//! The server process, its database and the tenants' tokens.

use super::*;

/// The started server; killed (SIGTERM, then SIGKILL) when dropped.
pub(crate) struct ServerProc {
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl ServerProc {
    pub(crate) fn stop(&mut self) {
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
pub(crate) struct PgDb {
    /// `scheme://user@host:port`, without a database.
    server: String,
    /// The URL's query (`?…`) or "".
    query: String,
    name: String,
}

impl PgDb {
    pub(crate) fn create(url: &str) -> Result<PgDb, String> {
        use diesel::{Connection, RunQueryDsl};
        let (scheme, rest) = url.split_once("://").ok_or("--database-url: expected postgres://…")?;
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, format!("?{query}")),
            None => (rest, String::new()),
        };
        let authority = rest.split_once('/').map_or(rest, |(authority, _)| authority);
        let host = authority.rsplit('@').next().unwrap_or(authority);
        if !(host.starts_with("127.0.0.1") || host.starts_with("localhost")) {
            return Err(format!("--database-url must point at 127.0.0.1, not {host}"));
        }
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let db = PgDb { server: format!("{scheme}://{authority}"), query, name: format!("entrada_bench_{}_{secs}", std::process::id()) };
        entrada::db::init_postgres_client();
        let mut admin = diesel::PgConnection::establish(&db.admin_url()).map_err(|e| format!("cannot connect to {}: {e}", db.admin_url()))?;
        diesel::sql_query(format!("CREATE DATABASE {}", db.name))
            .execute(&mut admin)
            .map_err(|e| format!("CREATE DATABASE {}: {e}", db.name))?;
        Ok(db)
    }

    pub(crate) fn url(&self) -> String {
        format!("{}/{}{}", self.server, self.name, self.query)
    }

    /// The server's `postgres` database, to create and drop ours from.
    fn admin_url(&self) -> String {
        format!("{}/postgres{}", self.server, self.query)
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        use diesel::{Connection, RunQueryDsl};
        match diesel::PgConnection::establish(&self.admin_url()) {
            Ok(mut admin) => {
                if let Err(e) = diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut admin) {
                    eprintln!("warning: DROP DATABASE {}: {e}", self.name);
                }
            }
            Err(e) => eprintln!("warning: could not drop database {}: {e}", self.name),
        }
    }
}

/// The `entrada` binary to run: this build's, or `ENTRADA_BIN` (another build, for A/B runs
/// in alternation).
pub(crate) fn entrada_binary() -> std::path::PathBuf {
    std::env::var_os("ENTRADA_BIN").map_or_else(|| env!("CARGO_BIN_EXE_entrada").into(), std::path::PathBuf::from)
}

pub(crate) fn server_command(db_url: &str, dir: &Path, port: u16, pool_size: Option<&str>) -> Command {
    let mut command = Command::new(entrada_binary());
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

pub(crate) fn cli(db_url: &str, dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = server_command(db_url, dir, 9, None)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", entrada_binary().display()))?;
    if !out.status.success() {
        return Err(format!("entrada {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `company create` + `token generate` for each tenant, four CLI processes at a time.
pub(crate) fn create_tenants(db_url: &str, dir: &Path, count: usize) -> Result<Vec<(String, String)>, String> {
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

pub(crate) fn read_tokens_file(path: &Path, count: usize) -> Result<Vec<(String, String)>, String> {
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

pub(crate) fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

pub(crate) fn parse_local_url(url: &str) -> Result<SocketAddr, String> {
    let rest = url.strip_prefix("http://").ok_or("--url must be http://127.0.0.1:PORT")?;
    let hostport = rest.trim_end_matches('/');
    let hostport = hostport.replace("localhost", "127.0.0.1");
    let addr: SocketAddr = hostport.parse().map_err(|_| format!("--url: cannot parse {url:?} as http://127.0.0.1:PORT"))?;
    if !addr.ip().is_loopback() {
        return Err("--url must point at 127.0.0.1".into());
    }
    Ok(addr)
}
