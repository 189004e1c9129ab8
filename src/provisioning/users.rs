//! What SCIM user writes do to a company's people (rules 1, 3–8 and 10 of the product).

use crate::db::{AnyConnection, DbError, atomically};
use crate::domain::{ProvisioningMode, Role, UserAttributes};
use crate::models::activity::NewActivity;
use crate::models::assignment::Assignment;
use crate::models::passle::Passle;
use crate::models::user::{NewPerson, PersonColumns, User, UserRow};
use crate::models::{Company, CompanyId};

use super::{ProvisioningError, describe_changes};

/// Who caused an event, as shown in the activity log.
pub const ENTRA: &str = "Entra ID";

/// The result of a create: the person, and whether an existing person was linked or restored
/// rather than created.
pub struct Created {
    pub user: User,
    pub linked: bool,
}

fn unique_conflict(err: diesel::result::Error, attrs: &UserAttributes) -> ProvisioningError {
    let err = DbError::from(err);
    if !err.is_unique_violation() {
        return ProvisioningError::Db(err);
    }
    let text = err.to_string();
    let what = if text.contains("external_id") {
        format!("externalId {:?} is already used by another person of this company", attrs.external_id.as_deref().unwrap_or(""))
    } else if text.contains("email") {
        let email = attrs.email().map(|e| e.to_string()).unwrap_or_default();
        format!("email {email:?} is already used by another person of this company")
    } else {
        format!("userName {:?} is already used by another person of this company", attrs.user_name)
    };
    ProvisioningError::Conflict(what)
}

/// A person Entra asks to create, with what their row will hold worked out ahead of the
/// write (see [`PersonColumns`]).
pub struct NewUser {
    attrs: UserAttributes,
    columns: PersonColumns,
}

impl From<UserAttributes> for NewUser {
    fn from(attrs: UserAttributes) -> NewUser {
        NewUser { columns: PersonColumns::of(&attrs), attrs }
    }
}

/// Rules 1, 3, 6, 7, 8: creates the person, or links the matching manual / deprovisioned
/// person (same userName or email) instead of duplicating them.
pub fn create_user(conn: &mut AnyConnection, company: &Company, new: NewUser) -> Result<Created, ProvisioningError> {
    let NewUser { attrs, columns } = new;
    let email = attrs.email().ok_or(ProvisioningError::EmailRequired)?;
    let setup = Setup::of(conn, company, &attrs)?;
    // Most creates are of someone new: the INSERT itself checks that nobody matches.
    if let Some(row) = setup.insert(conn, company, &attrs, columns, true)? {
        return Ok(Created { user: User { row, attributes: attrs, groups: Vec::new() }, linked: false });
    }
    let user_name_lower = attrs.user_name.to_lowercase();
    let (matches, deprovisioned) = User::find_create_candidates(conn, company.company_id(), &user_name_lower, &email.lower())?;
    let existing = match matches.as_slice() {
        [] => deprovisioned,
        [one] => Some(one.clone()),
        _ => {
            return Err(ProvisioningError::Conflict(format!(
                "userName {:?} and email {email} belong to two different people of this company",
                attrs.user_name
            )));
        }
    };
    let Some(row) = existing else {
        // Whoever matched the INSERT's check no longer does (a concurrent request changed
        // their userName or email): a plain create.
        let row = setup.insert(conn, company, &attrs, PersonColumns::of(&attrs), false)?;
        let row = row.ok_or_else(|| ProvisioningError::Conflict("the person could not be created; retry".into()))?;
        return Ok(Created { user: User { row, attributes: attrs, groups: Vec::new() }, linked: false });
    };
    if row.source == "entra" && row.deprovisioned_at.is_none() {
        return Err(ProvisioningError::Conflict(format!(
            "userName {:?} (or email {email}) is already provisioned as user {}",
            attrs.user_name, row.scim_id
        )));
    }
    atomically(conn, |c| link_existing(c, company, row, attrs))
}

/// How the company's user configuration sets up a person Entra creates.
struct Setup {
    role: Option<Role>,
    job_title: Option<String>,
    passles: Vec<i64>,
    detail: String,
}

impl Setup {
    fn of(conn: &mut AnyConnection, company: &Company, attrs: &UserAttributes) -> Result<Setup, ProvisioningError> {
        let mode = company.mode();
        let role = (mode != ProvisioningMode::None).then_some(Role::ContentCreator);
        let job_title = if company.job_title_sync { attrs.title.clone() } else { None };
        let passles = configured_passles(conn, company)?;
        let setup = match (mode, passles.len()) {
            (ProvisioningMode::None, _) => "no role and no Passle (pending assignment)".to_owned(),
            (_, n) => format!("Content Creator on {n} Passle{}", if n == 1 { "" } else { "s" }),
        };
        let mut detail = format!("created from Entra ID; set up with {setup}");
        if !company.job_title_sync && attrs.title.is_some() {
            detail.push_str("; title received but not applied (job-title sync is off)");
        }
        Ok(Setup { role, job_title, passles, detail })
    }

    /// Inserts the person set up this way, with the event and the Passle grants, all or
    /// nothing; `unless_known`: only if nobody of the company matches (`None` otherwise).
    fn insert(
        &self,
        conn: &mut AnyConnection,
        company: &Company,
        attrs: &UserAttributes,
        columns: PersonColumns,
        unless_known: bool,
    ) -> Result<Option<UserRow>, ProvisioningError> {
        let id = company.company_id();
        let person = NewPerson::with_columns(attrs, columns, "entra").role(self.role.map(Role::as_str)).job_title(self.job_title.as_deref());
        let insert = |c: &mut AnyConnection| {
            let event = Some(event(id, "create", 201, self.detail.clone()));
            User::insert_row(c, id, person, event, unless_known).map_err(|e| unique_conflict(e, attrs))
        };
        // Without Passles to grant the person is one statement; grants come with it or not at all.
        match self.role {
            Some(role) if !self.passles.is_empty() => atomically(conn, |c| {
                let row = insert(c)?;
                if let Some(row) = &row {
                    Assignment::grant(c, id, row.id, &self.passles, role, "configuration")?;
                }
                Ok::<_, ProvisioningError>(row)
            }),
            _ => insert(conn),
        }
    }
}

/// The Passles the company's user configuration puts new people on.
fn configured_passles(conn: &mut AnyConnection, company: &Company) -> Result<Vec<i64>, ProvisioningError> {
    if company.mode() == ProvisioningMode::None {
        return Ok(Vec::new());
    }
    let passles = Passle::list(conn, company.company_id())?;
    Ok(match company.mode() {
        ProvisioningMode::None => Vec::new(),
        ProvisioningMode::AllPassles => passles.iter().map(|p| p.id).collect(),
        ProvisioningMode::SelectedPassles => passles.iter().filter(|p| p.selected_for_provisioning).map(|p| p.id).collect(),
    })
}

fn link_existing(conn: &mut AnyConnection, company: &Company, row: UserRow, attrs: UserAttributes) -> Result<Created, ProvisioningError> {
    let restored = row.deprovisioned_at.is_some();
    let updated = User::update_attributes(conn, &row, &row.attributes(), &attrs, None)
        .map_err(|e| unique_conflict(e, &attrs))?
        .ok_or_else(|| ProvisioningError::Conflict("the person changed during the request; retry".into()))?;
    User::link_to_entra(conn, updated.id)?;
    if company.job_title_sync {
        User::set_job_title(conn, updated.id, attrs.title.as_deref())?;
    }
    let user = User::find_by_scim_id(conn, company, &updated.scim_id)?
        .ok_or_else(|| ProvisioningError::NotFound("person vanished during linking".into()))?;
    let detail = if restored {
        "deprovisioned person restored and relinked by Entra ID; role and Passles unchanged".to_owned()
    } else {
        format!("existing person linked to Entra ID (matched by userName or email); role and Passles unchanged; {}", describe_changes(&user_attributes_before(&row), &attrs))
    };
    record(conn, company.company_id(), if restored { "restore" } else { "link" }, &user.row, 201, detail)?;
    Ok(Created { user, linked: true })
}

fn user_attributes_before(row: &UserRow) -> UserAttributes {
    UserAttributes { user_name: row.user_name.clone(), external_id: row.external_id.clone(), active: row.scim_active, ..Default::default() }
}

/// Rules 4, 5, 7, 8: replaces the person's SCIM attributes with what `change` makes of them.
/// Roles and Passles are never touched. `if_match` is the `ETag` the client last saw.
/// `known`: the person as a recent read found them, tried before reading them again (if they
/// changed since, the version check writes nothing and the next attempt reads them).
pub fn update_user<E: From<ProvisioningError>>(
    conn: &mut AnyConnection,
    company: &Company,
    scim_id: &str,
    if_match: Option<&str>,
    operation: &str,
    mut known: Option<User>,
    mut change: impl FnMut(&UserAttributes) -> Result<UserAttributes, E>,
) -> Result<User, E> {
    let id = company.company_id();
    if if_match.is_some() {
        known = None; // The precondition is checked against the stored version.
    }
    for _attempt in 0..5 {
        let (user, recently_read) = match known.take() {
            Some(user) if user.row.scim_id == scim_id && user.row.company_id == id.0 => (user, true),
            _ => (find(conn, company, scim_id)?, false),
        };
        if let Some(expected) = if_match
            && !etag_matches(expected, user.row.version)
        {
            return Err(ProvisioningError::PreconditionFailed(user.row.version.to_string()).into());
        }
        // Only the person as stored may refuse a change: a recent read may be out of date
        // (only the UPDATE's version check would tell), so it is read again instead.
        let new_attrs = match change(&user.attributes) {
            Ok(attrs) if attrs.email().is_some() => attrs,
            _ if recently_read => continue,
            Ok(_) => return Err(ProvisioningError::EmailRequired.into()),
            Err(refusal) => return Err(refusal),
        };
        let mut detail = describe_changes(&user.attributes, &new_attrs);
        if !company.job_title_sync && user.attributes.title != new_attrs.title {
            detail.push_str("; title recorded but not applied (job-title sync is off)");
        }
        let op = match (user.attributes.is_active(), new_attrs.is_active()) {
            (true, false) => "disable",
            (false, true) => "enable",
            _ => operation,
        };
        let recorded = event(id, op, 200, detail);
        let link = user.row.source != "entra";
        let retitle = company.job_title_sync && user.attributes.title != new_attrs.title;
        let apply = |c: &mut AnyConnection| -> Result<Option<UserRow>, ProvisioningError> {
            let Some(mut updated) = User::update_attributes(c, &user.row, &user.attributes, &new_attrs, Some(recorded))
                .map_err(|e| unique_conflict(e, &new_attrs))?
            else {
                return Ok(None);
            };
            if link {
                User::link_to_entra(c, updated.id)?;
                updated.source = "entra".to_owned();
                updated.version += 1;
            }
            if retitle {
                User::set_job_title(c, updated.id, new_attrs.title.as_deref())?;
                updated.job_title = new_attrs.title.clone();
            }
            Ok(Some(updated))
        };
        // Most PATCHes are the one UPDATE statement; linking or a job title comes with it.
        let applied = if link || retitle { atomically(conn, apply) } else { apply(conn) };
        let Some(updated) = applied? else {
            continue; // Changed by a concurrent request since we read it: read again.
        };
        // What was just written is the answer: no need to read it back.
        return Ok(User { row: updated, attributes: new_attrs, groups: user.groups });
    }
    Err(ProvisioningError::Conflict("too many concurrent changes to this person; retry".into()).into())
}

/// Rule 8: DELETE keeps the person, disabled and unlinked from SCIM.
pub fn deprovision_user(conn: &mut AnyConnection, company: &Company, scim_id: &str, if_match: Option<&str>) -> Result<(), ProvisioningError> {
    let id = company.company_id();
    let user = find(conn, company, scim_id)?;
    if let Some(expected) = if_match
        && !etag_matches(expected, user.row.version)
    {
        return Err(ProvisioningError::PreconditionFailed(user.row.version.to_string()));
    }
    User::deprovision(conn, &user.row)?;
    record(conn, id, "delete", &user.row, 204, "deprovisioned by Entra ID: disabled and unlinked; role, Passles and data kept".into())?;
    Ok(())
}

fn find(conn: &mut AnyConnection, company: &Company, scim_id: &str) -> Result<User, ProvisioningError> {
    User::find_by_scim_id(conn, company, scim_id)?
        .ok_or_else(|| ProvisioningError::NotFound(format!("no user with id {scim_id:?}")))
}

/// The weak ETag of a version: `W/"3"`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn etag_matches(if_match: &str, version: i64) -> bool {
    let current = etag(version);
    if_match.split(',').map(str::trim).any(|tag| tag == "*" || tag == current || tag.trim_start_matches("W/") == current.trim_start_matches("W/"))
}

fn record(conn: &mut AnyConnection, company: CompanyId, operation: &str, row: &UserRow, status: i32, detail: String) -> Result<(), ProvisioningError> {
    event(company, operation, status, detail).about(row).insert(conn)?;
    Ok(())
}

/// An event by Entra about a person (who it is about is filled in when it is written).
fn event(company: CompanyId, operation: &str, status: i32, detail: String) -> NewActivity {
    let mut event = NewActivity::new(company, ENTRA, operation, "User");
    event.status = status;
    event.detail = detail;
    event
}

/// Records a refused SCIM write (outside the failed transaction, so it is kept).
pub fn record_failure(
    conn: &mut AnyConnection,
    company: CompanyId,
    operation: &str,
    resource_type: &str,
    resource_id: Option<&str>,
    subject: Option<&str>,
    status: u16,
    detail: &str,
) -> Result<(), DbError> {
    let mut event = NewActivity::new(company, ENTRA, operation, resource_type);
    event.resource_id = resource_id.map(str::to_owned);
    event.subject = subject.map(str::to_owned);
    event.outcome = "failure".to_owned();
    event.status = i32::from(status);
    event.detail = detail.chars().take(2000).collect();
    event.insert(conn)?;
    Ok(())
}
