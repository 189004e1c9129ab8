-- Entrada initial schema (SQLite). Keep in step with ../../postgres/<same name>/up.sql.
CREATE TABLE companies (
    id INTEGER PRIMARY KEY,
    shortcode TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    entra_enabled BOOLEAN NOT NULL DEFAULT 0,
    job_title_sync BOOLEAN NOT NULL DEFAULT 0,
    groups_enabled BOOLEAN NOT NULL DEFAULT 0,
    provisioning_mode TEXT NOT NULL DEFAULT 'none'
        CHECK (provisioning_mode IN ('none', 'all_passles', 'selected_passles')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE passles (
    id INTEGER PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    selected_for_provisioning BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX passles_company_name ON passles (company_id, name_lower);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    scim_id TEXT NOT NULL UNIQUE,
    user_name TEXT NOT NULL,
    user_name_lower TEXT NOT NULL,
    external_id TEXT,
    external_id_lower TEXT,
    email TEXT,
    email_lower TEXT,
    display_name TEXT,
    given_name TEXT,
    family_name TEXT,
    title TEXT,
    preferred_language TEXT,
    manager_id TEXT,
    scim_active BOOLEAN,
    job_title TEXT,
    role TEXT CHECK (role IN ('administrator', 'editor', 'content_creator')),
    source TEXT NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'entra')),
    disabled_at TIMESTAMP,
    deprovisioned_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    -- userName (lower-case) of a deprovisioned person: their uniqueness keys are released so
    -- others may use them, and a later create of the same userName restores them.
    deprovisioned_key TEXT
);
CREATE INDEX users_company_deprovisioned ON users (company_id, deprovisioned_key);
CREATE UNIQUE INDEX users_company_user_name ON users (company_id, user_name_lower);
CREATE UNIQUE INDEX users_company_external_id ON users (company_id, external_id_lower);
CREATE UNIQUE INDEX users_company_email ON users (company_id, email_lower);

-- SCIM attributes that are not columns of users: one row per element of a multi-valued
-- attribute (emails, phoneNumbers, addresses, ...), in the order sent, and one row per other
-- single-valued attribute (name.formatted, nickName, enterprise and custom extension
-- attributes, keyed by their full path). `raw_json` keeps a value that is not a plain string.
CREATE TABLE user_values (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    company_id BIGINT NOT NULL,
    attribute TEXT NOT NULL,
    position INTEGER NOT NULL,
    type TEXT,
    is_primary BOOLEAN,
    value TEXT,
    value_lower TEXT,
    display TEXT,
    formatted TEXT,
    street_address TEXT,
    locality TEXT,
    region TEXT,
    postal_code TEXT,
    country TEXT,
    raw_json TEXT
);
CREATE INDEX user_values_user ON user_values (user_id, attribute, position);
CREATE INDEX user_values_lookup ON user_values (company_id, attribute, value_lower);

CREATE TABLE passle_assignments (
    id INTEGER PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    passle_id BIGINT NOT NULL REFERENCES passles (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('administrator', 'editor', 'content_creator')),
    source TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX passle_assignments_unique ON passle_assignments (user_id, passle_id, source);
CREATE INDEX passle_assignments_passle ON passle_assignments (passle_id);

CREATE TABLE scim_tokens (
    id INTEGER PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    token_digest TEXT NOT NULL UNIQUE,
    last4 TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX scim_tokens_company ON scim_tokens (company_id);

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    company_id BIGINT REFERENCES companies (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    email_lower TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL DEFAULT 0,
    activity_seen_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    token_digest TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE sign_in_failures (
    id INTEGER PRIMARY KEY,
    throttle_key TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX sign_in_failures_key ON sign_in_failures (throttle_key, failed_at);

CREATE TABLE setup_tokens (
    id INTEGER PRIMARY KEY,
    token_digest TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

-- Every SCIM write and every provisioning decision, per company, for admins to read.
CREATE TABLE activity (
    id INTEGER PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    occurred_at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    operation TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    user_id BIGINT,
    subject TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    status INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX activity_company ON activity (company_id, id);
CREATE INDEX activity_company_outcome ON activity (company_id, outcome, id);
