//! Embedded migrations, one tree per backend with identical names.

use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::AnyConnection;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Arbitrary key of the PostgreSQL advisory lock held while migrating (not the statistics
/// keeper's).
const MIGRATION_LOCK_KEY: i64 = 0x656e_7472_6164_6101;

/// Applies pending migrations and returns how many ran (0 on an up-to-date database).
///
/// Several instances, or a CLI command beside a starting server, may migrate at once: one at a
/// time does, the others wait and then find nothing left to do. Without that each worked out
/// the same pending migrations and all but one failed half-way ("relation already exists"):
/// measured, 3 of 4 `entrada migrate` started together on a new database.
pub fn run_migrations(conn: &mut AnyConnection) -> anyhow::Result<usize> {
    let failed = |e: &dyn std::fmt::Display| anyhow::anyhow!("migration failed: {e}");
    match conn {
        AnyConnection::Postgresql(c) => {
            // A session lock: released on unlock, or when the connection ends should we die.
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(c)?;
            let applied = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|done| done.len()).map_err(|e| failed(&e));
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(c)?;
            applied
        }
        // The write lock, taken before looking for pending migrations; each migration runs
        // in a savepoint of this transaction, and all of them commit together.
        AnyConnection::Sqlite(c) => c.immediate_transaction(|c| {
            c.run_pending_migrations(SQLITE_MIGRATIONS).map(|done| done.len()).map_err(|e| failed(&e))
        }),
    }
}
