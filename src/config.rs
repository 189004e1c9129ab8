//! Settings from the environment (and an optional `.env`, loaded by `main`).
//!
//! | variable       | default                         | meaning |
//! |----------------|---------------------------------|---------|
//! | `DATABASE_URL` | `data/entrada.db` (SQLite)      | SQLite path (`sqlite://PATH` also accepted) or `postgres://…` |
//! | `BIND`         | `127.0.0.1:8080`                | address the HTTP server listens on |
//! | `PUBLIC_URL`   | `http://` + `BIND`              | externally visible base URL: Tenant URLs, SCIM `meta.location`, secure cookies when https |
//! | `RUST_LOG`     | `info`                          | log filter (tracing `EnvFilter` syntax) |
//! | `DATABASE_POOL_SIZE` | `8` (SQLite), `4` (PostgreSQL) | database connections (SQLite readers, PostgreSQL threads) |
//!
//! A bad value stops start-up with one line naming the variable (exit code 2).

use std::net::SocketAddr;

pub const DEFAULT_DATABASE_URL: &str = "data/entrada.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub bind: SocketAddr,
    pub public_url: PublicUrl,
    /// True when `PUBLIC_URL` was not set and was derived from `BIND` (then a bind to port 0
    /// is fixed up with the real port once the listener exists).
    pub public_url_from_bind: bool,
    pub log_filter: String,
    pub pool_size: u32,
}

/// Database connections when `DATABASE_POOL_SIZE` is unset.
///
/// PostgreSQL: 4. Each connection is a server process, and on a 2-core machine that also runs
/// the database fewer of them switch less: entra_cycle, 3 alternating rounds, 4 against 8
/// connections: read burst 19,445-19,827 against 15,977-16,645 req/s, write phases the same
/// (p99 6-7.5 ms against 8.5-9). A remote PostgreSQL with many cores may want more.
fn default_pool_size(backend: crate::db::Backend) -> u32 {
    match backend {
        crate::db::Backend::Postgres => 4,
        crate::db::Backend::Sqlite => 8,
    }
}

/// The externally visible base URL, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn parse(raw: &str) -> Result<PublicUrl, String> {
        let trimmed = raw.trim().trim_end_matches('/');
        let rest = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"))
            .ok_or_else(|| format!("{raw:?} must start with http:// or https://"))?;
        if rest.is_empty() || rest.contains(char::is_whitespace) || rest.contains(['?', '#']) {
            return Err(format!("{raw:?} is not a base URL such as https://entrada.example.com"));
        }
        Ok(PublicUrl(trimmed.to_owned()))
    }

    pub fn from_bind(bind: SocketAddr) -> PublicUrl {
        PublicUrl(format!("http://{bind}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// The SCIM base URL of a company: what admins paste into Entra as the Tenant URL.
    pub fn tenant_url(&self, shortcode: &str) -> String {
        format!("{}/scim/{shortcode}/v2", self.0)
    }
}

/// A configuration problem, always naming the variable at fault.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can supply their own environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let backend = crate::db::Backend::from_url(&database_url)
            .map_err(|e| ConfigError { variable: "DATABASE_URL", message: e.to_string() })?;

        let bind_raw = get("BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind: SocketAddr = bind_raw.trim().parse().map_err(|_| ConfigError {
            variable: "BIND",
            message: format!("{bind_raw:?} is not an address such as 127.0.0.1:8080"),
        })?;

        let public_url_from_bind = get("PUBLIC_URL").is_none();
        let public_url = match get("PUBLIC_URL") {
            Some(raw) => PublicUrl::parse(&raw)
                .map_err(|message| ConfigError { variable: "PUBLIC_URL", message })?,
            None => PublicUrl::from_bind(bind),
        };

        let log_filter = get("RUST_LOG").unwrap_or_else(|| "info".to_owned());
        tracing_subscriber::EnvFilter::try_new(&log_filter).map_err(|e| ConfigError {
            variable: "RUST_LOG",
            message: format!("{log_filter:?} is not a valid log filter: {e}"),
        })?;

        let pool_size = match get("DATABASE_POOL_SIZE") {
            None => default_pool_size(backend),
            Some(raw) => raw.trim().parse::<u32>().ok().filter(|n| (1..=256).contains(n)).ok_or(
                ConfigError {
                    variable: "DATABASE_POOL_SIZE",
                    message: format!("{raw:?} is not a number between 1 and 256"),
                },
            )?,
        };

        Ok(Settings { database_url, bind, public_url, public_url_from_bind, log_filter, pool_size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| {
            vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_give_sqlite_on_localhost() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(s.bind.to_string(), DEFAULT_BIND);
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:8080");
        assert_eq!(s.public_url.tenant_url("a01"), "http://127.0.0.1:8080/scim/a01/v2");
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (var, value) in [
            ("BIND", "localhost"),
            ("PUBLIC_URL", "ftp://x"),
            ("DATABASE_URL", "mysql://db/x"),
            ("RUST_LOG", "info,[[["),
            ("DATABASE_POOL_SIZE", "0"),
        ] {
            let err = settings(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var, "{err}");
        }
    }

    #[test]
    fn the_pool_size_defaults_by_backend_and_can_be_set() {
        assert_eq!(settings(&[]).unwrap().pool_size, 8);
        assert_eq!(settings(&[("DATABASE_URL", "postgres://db/entrada")]).unwrap().pool_size, 4);
        assert_eq!(settings(&[("DATABASE_URL", "postgres://db/entrada"), ("DATABASE_POOL_SIZE", "12")]).unwrap().pool_size, 12);
    }

    #[test]
    fn public_url_loses_its_trailing_slash() {
        let s = settings(&[("PUBLIC_URL", "https://entrada.example.com/")]).unwrap();
        assert_eq!(s.public_url.as_str(), "https://entrada.example.com");
        assert!(s.public_url.is_https());
    }
}
