//! Connections, pools and migrations for both backends.
//!
//! One code path: every query is written once against [`AnyConnection`]. The backend is picked
//! at run time from `DATABASE_URL`. Database work never waits on actix's async workers: callers
//! go through [`Database::read`] / [`Database::write`], which run the closure elsewhere with
//! the caller's tracing span.
//!
//! SQLite allows one writer at a time; a transaction that starts as a reader and later writes
//! can fail with `SQLITE_BUSY` when another connection wrote in between. So on SQLite every
//! write goes through a single dedicated connection (writes are serialized, reads run in
//! parallel on the reader pool, on the blocking pool, thanks to WAL). PostgreSQL runs both on
//! its connection threads (`connection_threads.rs`).

mod connection;
mod connection_threads;
pub mod epoch;
mod explain;
mod migrations;
pub mod schema;
pub mod sql;
mod statistics;
pub mod update;
mod wal_buffer;
mod writer;

use std::time::Duration;

use diesel::r2d2::Pool;
use tracing::Span;

pub use connection::{AnyConnection, Backend, ConnectionManager, MultiBackend, establish, init_postgres_client};
pub use explain::query_plan;
pub use migrations::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS, run_migrations};

/// Errors from the database layer, before any layer gives them a meaning.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("could not get a database connection: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("database task was cancelled")]
    Cancelled,
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("the write could not start: {0}")]
    Begin(String),
    #[error("the write could not be committed: {0}")]
    Commit(String),
}

impl DbError {
    /// True when the database refused a write because of a unique index.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

type AnyPool = Pool<ConnectionManager>;

/// Handle to the database: cheap to clone, shared by every worker.
#[derive(Clone)]
pub struct Database {
    work: Work,
}

/// Where database work runs.
#[derive(Clone)]
enum Work {
    /// Reads and writes on any of the connection threads; the server orders concurrent
    /// writers itself. The keeper holds the planner's statistics in step with the tables.
    Postgres { threads: connection_threads::ConnectionThreads, _statistics: statistics::Keeper },
    /// Reads on the reader pool; writes on the one writer thread, which group-commits (see
    /// `writer.rs`).
    Sqlite { readers: AnyPool, writer: writer::Writer },
}

/// Sizes of the pools; the defaults suit a 2-core machine.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_connections: u32,
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions { max_connections: 8, connection_timeout: Duration::from_secs(10) }
    }
}

impl Database {
    /// Connects (creating the SQLite file and its directory if needed) and checks the
    /// connection once, so a wrong URL fails at start-up with the driver's own message.
    pub fn connect(url: &str, options: PoolOptions) -> anyhow::Result<Database> {
        let work = match prepare(url)? {
            Backend::Sqlite => Work::Sqlite {
                readers: Pool::builder()
                    .max_size(options.max_connections)
                    .min_idle(Some(1))
                    // No `SELECT 1` before every checkout: a broken connection is noticed by
                    // the query that fails on it (`has_broken`) and replaced.
                    .test_on_check_out(false)
                    .connection_timeout(options.connection_timeout)
                    .build(ConnectionManager::new(url))?,
                writer: writer::Writer::start(url)?,
            },
            Backend::Postgres => Work::Postgres {
                threads: connection_threads::ConnectionThreads::start(
                    url,
                    options.max_connections,
                    options.connection_timeout,
                )?,
                _statistics: statistics::start(url)?,
            },
        };
        Ok(Database { work })
    }

    /// A single connection without a pool (CLI commands): no background threads, so the
    /// process can exit at any moment without racing libpq/OpenSSL clean-up.
    pub fn connect_single(url: &str) -> anyhow::Result<AnyConnection> {
        prepare(url)?;
        Ok(establish(url)?)
    }

    pub fn backend(&self) -> Backend {
        match self.work {
            Work::Postgres { .. } => Backend::Postgres,
            Work::Sqlite { .. } => Backend::Sqlite,
        }
    }

    /// Runs read-only work (SQLite: on the blocking pool).
    pub async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        match &self.work {
            Work::Postgres { threads, .. } => on_connection_thread(threads, work).await,
            Work::Sqlite { readers, .. } => run_blocking(readers.clone(), work).await,
        }
    }

    /// Runs a read of a few index lookups (a person by id, userName or externalId): on SQLite,
    /// on the calling thread when a pooled connection is free at once, else like [`read`].
    ///
    /// Such a read is answered from SQLite's page cache in microseconds; the hand-off to the
    /// blocking pool and back (two thread wake-ups) cost the server more CPU than the read.
    /// WAL readers never wait for the writer, and `try_get` never waits for a connection,
    /// so nothing here blocks the async worker. PostgreSQL (a network round trip) always
    /// goes to a connection thread.
    ///
    /// [`read`]: Database::read
    pub async fn read_lookup<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        if let Work::Sqlite { readers, .. } = &self.work
            && let Some(mut conn) = readers.try_get()
        {
            return work(&mut conn);
        }
        self.read(work).await
    }

    /// Runs work as one transaction (on SQLite: a savepoint in the writer thread's current
    /// batch). An `Err` rolls all of this work back; `Ok` is returned once it is committed.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        match &self.work {
            Work::Postgres { threads, .. } => on_connection_thread(threads, move |conn| transaction(conn, work)).await,
            Work::Sqlite { writer, .. } => queue_write(writer, work).await,
        }
    }

    /// Runs `work` like [`write`](Database::write) on SQLite; on PostgreSQL without wrapping
    /// it in a transaction, which saves BEGIN and COMMIT: two of the four round trips of an
    /// Entra create or PATCH. Only for work that writes with one statement, or runs several
    /// through [`atomically`]: outside a transaction each statement commits on its own, and an
    /// `Err` undoes nothing.
    pub async fn write_autocommit<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        match &self.work {
            Work::Postgres { threads, .. } => on_connection_thread(threads, work).await,
            Work::Sqlite { writer, .. } => queue_write(writer, work).await,
        }
    }
}

/// Queues `work` for the SQLite writer thread and waits for the outcome of its COMMIT.
async fn queue_write<T, E, F>(writer: &writer::Writer, work: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let (reply, answer) = tokio::sync::oneshot::channel::<Result<T, E>>();
    let span = Span::current();
    let job: writer::Job = Box::new(move |conn| {
        let conn = match conn {
            Ok(conn) => conn,
            Err(err) => {
                let _ = reply.send(Err(E::from(DbError::Begin(err.to_string()))));
                return None;
            }
        };
        let result = span.in_scope(|| writer::in_savepoint(conn, work));
        Some(Box::new(move |committed: Result<(), &DbError>| {
            let result = match (committed, result) {
                (Ok(()), result) | (Err(_), result @ Err(_)) => result,
                (Err(err), Ok(_)) => Err(E::from(DbError::Commit(err.to_string()))),
            };
            let _ = reply.send(result);
        }))
    });
    if !writer.submit(job) {
        return Err(E::from(DbError::Cancelled));
    }
    answer.await.unwrap_or_else(|_| Err(E::from(DbError::Cancelled)))
}

/// Queues `work` for PostgreSQL's connection threads and waits for its outcome.
async fn on_connection_thread<T, E, F>(threads: &connection_threads::ConnectionThreads, work: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let claim = connection_threads::Claim::default();
    let job_claim = claim.clone();
    let (reply, mut answer) = tokio::sync::oneshot::channel::<Result<T, E>>();
    let span = Span::current();
    threads.submit(
        job_claim,
        Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => span.in_scope(|| work(conn)),
                Err(err) => Err(E::from(err)),
            };
            // Before the answer, as on SQLite: a token check that runs once the caller has
            // its answer must not use what it cached before this change committed.
            epoch::finished();
            let _ = reply.send(result);
        }),
    );
    // A job dropped unanswered (its work panicked) reports `Cancelled`.
    let cancelled = |_| Err(E::from(DbError::Cancelled));
    match tokio::time::timeout(threads.wait_limit(), &mut answer).await {
        Ok(answered) => answered.unwrap_or_else(cancelled),
        // Not started yet: it never will be. Started: it runs to its end, like a statement.
        Err(_) if claim.abandon() => {
            Err(E::from(DbError::Unavailable(format!("no database connection was free for {:?}", threads.wait_limit()))))
        }
        Err(_) => answer.await.unwrap_or_else(cancelled),
    }
}

/// Checks the URL's backend and creates the SQLite file's directory.
fn prepare(url: &str) -> anyhow::Result<Backend> {
    let backend = Backend::from_url(url)?;
    if let Backend::Sqlite = backend {
        connection::create_sqlite_parent_dir(url)?;
    }
    Ok(backend)
}

/// Runs `work` in a transaction; the error type is the caller's.
pub fn transaction<T, E, F>(conn: &mut AnyConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<DbError>,
{
    use diesel::Connection;
    let mut outcome = None;
    let result = conn.transaction::<_, TxAbort, _>(|c| match work(c) {
        Ok(value) => Ok(value),
        Err(err) => {
            outcome = Some(err);
            Err(TxAbort::Rollback)
        }
    });
    match result {
        Ok(value) => Ok(value),
        Err(TxAbort::Rollback) => Err(outcome.expect("rollback always stores the caller's error")),
        Err(TxAbort::Db(err)) => Err(E::from(DbError::Query(err))),
    }
}

/// Runs `work` atomically: as part of the transaction already open on `conn` (an `Err` the
/// caller passes on then rolls it back with the rest, as [`Database::write`] does), else in a
/// transaction of its own (on PostgreSQL under [`Database::write_autocommit`]).
pub fn atomically<T, E, F>(conn: &mut AnyConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<DbError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let depth = crate::per_backend!(&mut *conn, c => AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth());
    match depth.map_err(|e| E::from(DbError::Query(e)))? {
        Some(_) => work(conn),
        None => transaction(conn, work),
    }
}

/// Lets [`transaction`] roll back with the caller's error while diesel sees its own type.
enum TxAbort {
    Rollback,
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for TxAbort {
    fn from(err: diesel::result::Error) -> Self {
        TxAbort::Db(err)
    }
}

async fn run_blocking<T, E, F>(pool: AnyPool, work: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let span = Span::current();
    let task = actix_web::web::block(move || {
        let _entered = span.enter();
        let mut conn = pool.get().map_err(DbError::Pool)?;
        let result = work(&mut conn);
        epoch::finished();
        result
    });
    match task.await {
        Ok(result) => result,
        Err(_) => Err(E::from(DbError::Cancelled)),
    }
}

diesel::define_sql_function! {
    /// SQL `lower()`, the same on both backends for ASCII and (PostgreSQL) Unicode.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub fn like_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Runs the same diesel code on the concrete connection: for the few statements diesel's
/// `MultiBackend` cannot express (multi-row inserts), and for the queries every SCIM request
/// runs. `MultiBackend` renders a query's SQL text on every execution, even when the prepared
/// statement is cached (measured: ~15% of the server's CPU on filter queries); the concrete
/// connection finds a statically typed query's statement without rendering anything.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Postgresql($c) => $body,
            $crate::db::AnyConnection::Sqlite($c) => $body,
        }
    };
}
