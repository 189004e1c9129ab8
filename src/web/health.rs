use actix_web::{HttpResponse, web};
use diesel::RunQueryDsl;
use serde_json::json;

use crate::db::DbError;
use crate::state::AppState;

/// `GET /healthz`: 200 when the database answers, 503 otherwise (for load balancers).
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let backend = state.db.backend().name();
    let check = state
        .db
        .read(|conn| {
            diesel::sql_query("SELECT 1").execute(conn).map_err(DbError::from)
        })
        .await;
    match check {
        Ok(_) => HttpResponse::Ok().json(json!({"status": "ok", "database": backend})),
        Err(err) => {
            tracing::error!(error = %err, "health check failed: database unreachable");
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "unavailable", "database": backend}))
        }
    }
}
