-- A person's SCIM attributes that are not columns of users move from one user_values row each
-- into one JSON document on the person's row (`scim_values`): a read is one row, and a create
-- or a PATCH writes one row instead of one per value (each with a random index entry).
-- Values Entra may match on (emails, enterprise and custom extension attributes) stay indexed
-- in user_lookups; other attributes are filtered in the document.
ALTER TABLE users ADD COLUMN scim_values TEXT NOT NULL DEFAULT '{}';

UPDATE users SET scim_values = (
    SELECT json_group_object(attribute, json(doc)) FROM (
        SELECT attribute,
               CASE WHEN attribute IN ('emails', 'phoneNumbers', 'ims', 'photos', 'addresses', 'entitlements', 'roles', 'x509Certificates')
                    THEN json_group_array(json(COALESCE(raw_json, json_patch('{}', json_object(
                        'value', value, 'display', display, 'type', type, 'formatted', formatted,
                        'streetAddress', street_address, 'locality', locality, 'region', region,
                        'postalCode', postal_code, 'country', country,
                        'primary', CASE is_primary WHEN 1 THEN json('true') WHEN 0 THEN json('false') END)))) ORDER BY position)
                    ELSE COALESCE(max(raw_json), json_quote(COALESCE(max(value), '')))
               END AS doc
        FROM user_values v WHERE v.user_id = users.id GROUP BY attribute
    )
) WHERE EXISTS (SELECT 1 FROM user_values v WHERE v.user_id = users.id);

-- Keyed by person first: a create appends to the end of the table; the lookup index serves
-- the filters.
CREATE TABLE user_lookups (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    attribute TEXT NOT NULL,
    position INTEGER NOT NULL,
    company_id BIGINT NOT NULL,
    value_lower TEXT,
    type TEXT,
    is_primary BOOLEAN,
    display TEXT,
    PRIMARY KEY (user_id, attribute, position)
) WITHOUT ROWID;
CREATE INDEX user_lookups_value ON user_lookups (company_id, attribute, value_lower);

INSERT INTO user_lookups (user_id, attribute, position, company_id, value_lower, type, is_primary, display)
SELECT user_id, attribute, position, company_id, value_lower, type, is_primary, display
FROM user_values WHERE attribute = 'emails' OR attribute LIKE 'urn:%';

DROP TABLE user_values;
