//! Command-line options.

use super::*;

#[derive(Debug, Clone)]
pub(crate) struct Opts {
    pub(crate) tenants: usize,
    pub(crate) users: usize,
    pub(crate) concurrency: usize,
    pub(crate) read_users: usize,
    pub(crate) read_requests: usize,
    pub(crate) seed_concurrency: usize,
    pub(crate) database_url: Option<String>,
    pub(crate) url: Option<String>,
    pub(crate) tokens_file: Option<PathBuf>,
    pub(crate) server_pid: Option<u32>,
    pub(crate) pool_size: Option<String>,
    pub(crate) tag: Option<String>,
    pub(crate) skip: Vec<String>,
    pub(crate) deadline_secs: u64,
}

pub(crate) const USAGE: &str = "\
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

pub(crate) fn parse_opts() -> Result<Opts, String> {
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
    pub(crate) fn num(name: &str, v: Option<String>) -> Result<usize, String> {
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
