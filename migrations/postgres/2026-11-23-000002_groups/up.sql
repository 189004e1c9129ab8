-- SCIM groups, their members (one row per membership: set-based changes), and the
-- mappings that turn membership into Passle assignments.
CREATE TABLE groups (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    scim_id TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    display_name_lower TEXT NOT NULL,
    external_id TEXT,
    external_id_lower TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX groups_company_name ON groups (company_id, display_name_lower);
CREATE UNIQUE INDEX groups_company_external_id ON groups (company_id, external_id_lower);

CREATE TABLE group_members (
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    company_id BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE group_mappings (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    passle_id BIGINT NOT NULL REFERENCES passles (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('editor', 'content_creator')),
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX group_mappings_unique ON group_mappings (group_id, passle_id);
