use crate::db::DbError;

/// Why a provisioning request was refused. Each maps to one SCIM error in `scim::users`.
#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("an email address is required: send emails[type eq \"work\"].value or a userName that is an email address")]
    EmailRequired,
    #[error("{0}")]
    Invalid(String),
    #[error("the resource was changed since version {0}; read it again")]
    PreconditionFailed(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ProvisioningError {
    fn from(err: diesel::result::Error) -> Self {
        ProvisioningError::Db(DbError::Query(err))
    }
}
