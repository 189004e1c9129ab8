//! Embedded migrations, one tree per backend with identical names.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::AnyConnection;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies pending migrations and returns how many ran (0 on an up-to-date database).
pub fn run_migrations(conn: &mut AnyConnection) -> anyhow::Result<usize> {
    let applied = match conn {
        AnyConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(applied.len())
}
