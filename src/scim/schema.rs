//! The SCIM schemas this server implements, as data: `/Schemas` renders them, and request
//! parsing, PATCH paths and filters resolve attribute names against them case-insensitively.

use serde_json::{Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    DateTime,
    Reference,
    Complex,
    Binary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
}

#[derive(Debug)]
pub struct AttrDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub unique: bool,
    pub description: &'static str,
    pub sub: &'static [AttrDef],
    /// `canonicalValues` (suggested values), if any.
    pub canonical: &'static [&'static str],
}

const fn attr(name: &'static str, description: &'static str) -> AttrDef {
    AttrDef {
        name,
        ty: AttrType::String,
        multi: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        unique: false,
        description,
        sub: &[],
        canonical: &[],
    }
}

const fn complex(name: &'static str, description: &'static str, sub: &'static [AttrDef]) -> AttrDef {
    AttrDef { ty: AttrType::Complex, sub, ..attr(name, description) }
}

const fn multi(name: &'static str, description: &'static str, sub: &'static [AttrDef]) -> AttrDef {
    AttrDef { multi: true, ..complex(name, description, sub) }
}

const fn boolean(name: &'static str, description: &'static str) -> AttrDef {
    AttrDef { ty: AttrType::Boolean, ..attr(name, description) }
}

const fn reference(name: &'static str, description: &'static str) -> AttrDef {
    AttrDef { ty: AttrType::Reference, case_exact: true, ..attr(name, description) }
}

const fn read_only(def: AttrDef) -> AttrDef {
    AttrDef { mutability: Mutability::ReadOnly, ..def }
}

const VALUE_SUBS: [AttrDef; 4] = [
    attr("value", "The value."),
    attr("display", "A human-readable name, primarily used for display purposes."),
    attr("type", "A label indicating the attribute's function, e.g. 'work' or 'home'."),
    boolean("primary", "Indicates the primary or preferred value."),
];

/// Emails as [`VALUE_SUBS`], with `value` required: an email element is its address.
const EMAIL_SUBS: [AttrDef; 4] = [
    AttrDef { required: true, ..attr("value", "The email address.") },
    attr("display", "A human-readable name, primarily used for display purposes."),
    attr("type", "A label indicating the attribute's function, e.g. 'work' or 'home'."),
    boolean("primary", "Indicates the primary or preferred value."),
];

const NAME_SUBS: [AttrDef; 6] = [
    attr("formatted", "The full name, formatted for display."),
    attr("familyName", "The family name (last name)."),
    attr("givenName", "The given name (first name)."),
    attr("middleName", "The middle name(s)."),
    attr("honorificPrefix", "The honorific prefix(es), e.g. 'Ms.'."),
    attr("honorificSuffix", "The honorific suffix(es), e.g. 'III'."),
];

const ADDRESS_SUBS: [AttrDef; 8] = [
    attr("formatted", "The full mailing address, formatted for display."),
    attr("streetAddress", "The full street address component."),
    attr("locality", "The city or locality component."),
    attr("region", "The state or region component."),
    attr("postalCode", "The zip code or postal code component."),
    attr("country", "The country name component."),
    attr("type", "A label indicating the address's function, e.g. 'work' or 'home'."),
    boolean("primary", "Indicates the primary mailing address."),
];

const GROUP_REF_SUBS: [AttrDef; 4] = [
    read_only(attr("value", "The id of the group.")),
    read_only(reference("$ref", "The URI of the group.")),
    read_only(attr("display", "The group's displayName.")),
    read_only(attr("type", "'direct' membership.")),
];

pub const USER_ATTRIBUTES: &[AttrDef] = &[
    AttrDef {
        required: true,
        unique: true,
        ..attr("userName", "Unique identifier for the user, typically the sign-in name (userPrincipalName in Entra ID). Case-insensitive and unique within the company.")
    },
    complex("name", "The components of the user's real name.", &NAME_SUBS),
    attr("displayName", "The name of the user, suitable for display."),
    attr("nickName", "The casual way to address the user."),
    reference("profileUrl", "A URI to the user's online profile."),
    attr("title", "The user's title, such as 'Vice President' (job title)."),
    attr("userType", "The relationship between the organization and the user."),
    attr("preferredLanguage", "The user's preferred written or spoken language, e.g. 'en-US'."),
    attr("locale", "The user's default location for localization, e.g. 'en-US'."),
    attr("timezone", "The user's time zone in IANA format, e.g. 'Europe/Paris'."),
    boolean("active", "The user's administrative status as set by the identity provider. Returned exactly as last written."),
    AttrDef { mutability: Mutability::WriteOnly, returned: Returned::Never, case_exact: true, ..attr("password", "Not stored: sign-in happens through the company's identity provider.") },
    AttrDef {
        required: true,
        ..multi("emails", "Email addresses. A person needs an email address: send one here (the work email is the person's address and links existing people), or use an email address as userName.", &EMAIL_SUBS)
    },
    multi("phoneNumbers", "Phone numbers, stored exactly as sent.", &VALUE_SUBS),
    multi("ims", "Instant messaging addresses.", &VALUE_SUBS),
    multi("photos", "URLs of photos of the user.", &VALUE_SUBS),
    multi("addresses", "Physical mailing addresses.", &ADDRESS_SUBS),
    read_only(multi("groups", "The groups the user belongs to (read-only).", &GROUP_REF_SUBS)),
    multi("entitlements", "Entitlements.", &VALUE_SUBS),
    multi("roles", "Roles as sent by the identity provider (kept, not applied: product roles are set in the portal).", &VALUE_SUBS),
    multi("x509Certificates", "X.509 certificates.", &VALUE_SUBS),
];

const MANAGER_SUBS: [AttrDef; 3] = [
    attr("value", "The id of the user's manager (the SCIM id of another user of the company)."),
    read_only(reference("$ref", "The URI of the manager's User resource.")),
    read_only(attr("displayName", "The manager's displayName.")),
];

pub const ENTERPRISE_ATTRIBUTES: &[AttrDef] = &[
    attr("employeeNumber", "Numeric or alphanumeric identifier assigned to a person."),
    attr("costCenter", "Name of a cost center."),
    attr("organization", "Name of an organization."),
    attr("division", "Name of a division."),
    attr("department", "Name of a department."),
    complex("manager", "The user's manager. Accepted as a bare id, {\"value\": id} or [{\"value\": id}]; returned as {\"value\": id}.", &MANAGER_SUBS),
];

const MEMBER_SUBS: [AttrDef; 4] = [
    AttrDef { mutability: Mutability::Immutable, ..attr("value", "The id of the member (a user of the company).") },
    AttrDef { mutability: Mutability::Immutable, ..reference("$ref", "The URI of the member.") },
    read_only(attr("display", "The member's displayName.")),
    AttrDef { mutability: Mutability::Immutable, canonical: &["User"], ..attr("type", "'User'.") },
];

pub const GROUP_ATTRIBUTES: &[AttrDef] = &[
    AttrDef { required: true, unique: true, ..attr("displayName", "The group's name, unique within the company (case-insensitive).") },
    multi("members", "The people in the group. Changes are applied one by one (add and remove only what is listed).", &MEMBER_SUBS),
];

/// Case-insensitive lookup of an attribute definition.
pub fn find<'a>(defs: &'a [AttrDef], name: &str) -> Option<&'a AttrDef> {
    defs.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

/// True for the two schema URNs whose attributes are defined here.
pub fn is_known_user_urn(urn: &str) -> bool {
    urn.eq_ignore_ascii_case(USER_SCHEMA) || urn.eq_ignore_ascii_case(ENTERPRISE_SCHEMA)
}

fn type_name(ty: AttrType) -> &'static str {
    match ty {
        AttrType::String => "string",
        AttrType::Boolean => "boolean",
        AttrType::DateTime => "dateTime",
        AttrType::Reference => "reference",
        AttrType::Complex => "complex",
        AttrType::Binary => "binary",
    }
}

fn attribute_json(def: &AttrDef) -> Value {
    let mut out = json!({
        "name": def.name,
        "type": type_name(def.ty),
        "multiValued": def.multi,
        "description": def.description,
        "required": def.required,
        "caseExact": def.case_exact,
        "mutability": match def.mutability {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        },
        "returned": match def.returned {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
        },
        "uniqueness": if def.unique { "server" } else { "none" },
    });
    if def.ty == AttrType::Reference {
        out["referenceTypes"] = json!(if def.name == "$ref" { json!(["User", "Group"]) } else { json!(["external"]) });
    }
    if !def.canonical.is_empty() {
        out["canonicalValues"] = json!(def.canonical);
    }
    if !def.sub.is_empty() {
        out["subAttributes"] = Value::Array(def.sub.iter().map(attribute_json).collect());
    }
    out
}

/// A schema resource as `/Schemas/{id}` returns it.
pub fn schema_json(id: &str, name: &str, description: &str, defs: &[AttrDef], location: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id,
        "name": name,
        "description": description,
        "attributes": defs.iter().map(attribute_json).collect::<Vec<_>>(),
        "meta": { "resourceType": "Schema", "location": location },
    })
}
