//! The runtime-selected connection type and its r2d2 manager.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    // PostgreSQL first: SqliteConnection accepts almost any string as a file name.
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Which backend a `DATABASE_URL` names. Unknown schemes are an error rather than a
    /// silently created SQLite file called `mysql:/…`.
    pub fn from_url(url: &str) -> anyhow::Result<Backend> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Backend::Postgres);
        }
        if let Some((scheme, _)) = url.split_once("://")
            && scheme != "sqlite"
            && scheme != "file"
        {
            anyhow::bail!(
                "unsupported database scheme `{scheme}://` (use a SQLite path, sqlite://PATH or postgres://…)"
            );
        }
        Ok(Backend::Sqlite)
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }
}

/// The file name SQLite should open for a `sqlite://path`, `sqlite:path` or plain path URL.
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url)
}

pub fn create_sqlite_parent_dir(url: &str) -> anyhow::Result<()> {
    let path = std::path::Path::new(sqlite_path(url));
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !url.starts_with("file:")
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create directory {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Initialises OpenSSL for libpq before its first use, without OpenSSL's `atexit` clean-up.
///
/// libpq links OpenSSL, and OpenSSL by default frees its global state in an `atexit` handler.
/// A pool's background thread that is still (re)connecting when the process exits then uses
/// freed state and the process dies with SIGSEGV (diesel-rs/diesel#3441). Whoever initialises
/// OpenSSL first decides, so every PostgreSQL connection goes through here. Idempotent.
pub fn init_postgres_client() {
    openssl_sys::init();
}

/// Makes every SQLite connection opened from now on keep its query plans stable
/// (`SQLITE_DBCONFIG_ENABLE_QPSG`). Without it SQLite marks a statement as depending on the
/// value bound to `LIMIT ?` (which diesel's `.first()` and paging bind) and prepares the
/// statement again on every execution: measured at ~19% of the server's CPU under SCIM load,
/// because diesel's statement cache then saved nothing. Also sets SQLite's process-wide
/// threading and memory-statistics options (below) and makes the WAL-buffering VFS
/// (`wal_buffer`) the default. Idempotent.
fn init_sqlite_client() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    // SAFETY: `sqlite3_config` is called before SQLite initialises (the auto-extension call
    // below initialises it; later calls would only return SQLITE_MISUSE). Multi-thread mode
    // drops the per-connection mutex that every API call took: a diesel connection is only
    // ever used by one thread at a time (`&mut`). Without memory statistics no global mutex
    // is taken on each of SQLite's allocations. `sqlite3_auto_extension` only stores the
    // function pointer; SQLite calls it with a valid handle of each connection it opens. The
    // VFS is registered after SQLite initialised and before any connection exists.
    ONCE.call_once(|| unsafe {
        libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MULTITHREAD);
        libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int);
        libsqlite3_sys::sqlite3_auto_extension(Some(stable_query_plans));
        super::wal_buffer::register();
    });
}

/// SQLite auto-extension entry point (see [`init_sqlite_client`]).
unsafe extern "C" fn stable_query_plans(
    db: *mut libsqlite3_sys::sqlite3,
    _error: *mut *mut std::ffi::c_char,
    _api: *const libsqlite3_sys::sqlite3_api_routines,
) -> std::ffi::c_int {
    // SAFETY: `db` is the connection being opened; the option takes an int and an optional
    // out-pointer for the previous setting, which we do not need.
    unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            std::ptr::null_mut::<std::ffi::c_int>(),
        );
    }
    libsqlite3_sys::SQLITE_OK
}

/// How long a SQLite connection waits for another's lock before giving up.
pub(super) const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

pub fn establish(url: &str) -> ConnectionResult<AnyConnection> {
    match Backend::from_url(url) {
        Ok(Backend::Postgres) => {
            init_postgres_client();
            // Prepared statements keep PostgreSQL's generic plans: `db::statistics` keeps the
            // planner's statistics in step with the tables, and new statistics re-make them.
            Ok(AnyConnection::Postgresql(diesel::PgConnection::establish(url)?))
        }
        Ok(Backend::Sqlite) => {
            init_sqlite_client();
            let mut conn = diesel::SqliteConnection::establish(sqlite_path(url))?;
            // Per-connection settings; WAL itself persists in the file.
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                 PRAGMA cache_size = -4000; PRAGMA temp_store = MEMORY;"
            ))
            .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(AnyConnection::Sqlite(conn))
        }
        Err(err) => Err(ConnectionError::BadConnection(err.to_string())),
    }
}

/// r2d2 manager that keeps the driver's own error message (diesel's stock manager for a
/// MultiConnection reports only "Invalid connection url").
#[derive(Debug)]
pub struct ConnectionManager {
    url: String,
}

impl ConnectionManager {
    pub fn new(url: &str) -> ConnectionManager {
        ConnectionManager { url: url.to_owned() }
    }
}

impl diesel::r2d2::ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        establish(&self.url).map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        conn.is_broken()
    }
}
