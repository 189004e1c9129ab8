//! A refused SCIM write, as the company's activity log records it.

use super::auth::{Refusal, ScimCredentials};
use super::error::ScimError;
use crate::db::{AnyConnection, DbError};
use crate::models::Company;
use crate::provisioning::users::record_failure;

/// What a write tried to do: the operation, on which kind of resource, which one, and the
/// name it carried (userName or displayName), for the activity log.
pub struct Attempt {
    operation: &'static str,
    resource: &'static str,
    id: Option<String>,
    subject: Option<String>,
}

impl Attempt {
    pub fn user(operation: &'static str, id: Option<&str>, subject: Option<String>) -> Attempt {
        Attempt { operation, resource: "User", id: id.map(str::to_owned), subject }
    }

    pub fn group(operation: &'static str, id: Option<&str>, subject: Option<String>) -> Attempt {
        Attempt { operation, resource: "Group", id: id.map(str::to_owned), subject }
    }

    fn recorder(self) -> impl FnOnce(&mut AnyConnection, &Company, &ScimError) -> Result<(), DbError> + Send + 'static {
        move |conn, company, err| {
            record_failure(conn, company.company_id(), self.operation, self.resource, self.id.as_deref(), self.subject.as_deref(), err.status.as_u16(), &err.detail)
        }
    }

    /// The request was invalid before it reached the database.
    pub async fn invalid(self, credentials: &ScimCredentials, err: ScimError) -> ScimError {
        credentials.refuse(err, self.recorder()).await
    }

    /// The write was refused: by the credentials, or by the company's rules or data.
    pub async fn refused(self, credentials: &ScimCredentials, refusal: Refusal) -> ScimError {
        credentials.settle(refusal, self.recorder()).await
    }
}
