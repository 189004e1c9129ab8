//! Embedded migrations, one tree per backend with identical names.

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use diesel::sql_types::Bool;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::AnyConnection;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Arbitrary key of the PostgreSQL advisory lock held while migrating (not the statistics
/// keeper's).
const MIGRATION_LOCK_KEY: i64 = 0x656e_7472_6164_6101;

/// How long SQLite waits for another process's migrations (longer than a connection's usual
/// wait for a lock: building an index on a large table can take longer).
const SQLITE_MIGRATION_WAIT_MS: u32 = 600_000;

/// Applies pending migrations and returns how many ran (0 on an up-to-date database).
///
/// Several instances, or a CLI command beside a starting server, may migrate at once: one at a
/// time does, the others wait and then find nothing left to do. Without that each worked out
/// the same pending migrations and all but one failed half-way ("relation already exists"):
/// measured, 3 of 4 `entrada migrate` started together on a new database.
pub fn run_migrations(conn: &mut AnyConnection) -> anyhow::Result<usize> {
    match conn {
        AnyConnection::Postgresql(c) => {
            // A session lock: released on unlock, or when the connection ends should we die.
            // (Behind a pooler in transaction mode it would not hold: migrate directly.)
            let lock = |c: &mut diesel::PgConnection, call: &str| {
                diesel::select(diesel::dsl::sql::<Bool>(&format!("{call}({MIGRATION_LOCK_KEY})"))).get_result::<bool>(c)
            };
            if !lock(c, "pg_try_advisory_lock")? {
                tracing::info!("another instance is migrating the database; waiting for it");
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(c)?;
            }
            let applied = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|done| done.len());
            let unlocked = lock(c, "pg_advisory_unlock");
            let applied = applied.map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
            unlocked?;
            Ok(applied)
        }
        // The write lock, taken before looking for pending migrations; each migration runs in
        // a savepoint of this transaction, so on SQLite they succeed or fail together.
        AnyConnection::Sqlite(c) => {
            c.batch_execute(&format!("PRAGMA busy_timeout = {SQLITE_MIGRATION_WAIT_MS}"))?;
            let applied = c.immediate_transaction(|c| {
                c.run_pending_migrations(SQLITE_MIGRATIONS).map(|done| done.len()).map_err(|e| anyhow::anyhow!("migration failed: {e}"))
            });
            c.batch_execute(&format!("PRAGMA busy_timeout = {}", super::connection::SQLITE_BUSY_TIMEOUT_MS))?;
            applied
        }
    }
}
