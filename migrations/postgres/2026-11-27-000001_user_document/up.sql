-- A person's SCIM attributes that are not columns of users move from one user_values row each
-- into one JSON document on the person's row (`scim_values`): a read is one row, and a create
-- or a PATCH writes one row instead of one per value (each with a random index entry).
-- Values Entra may match on (emails, enterprise and custom extension attributes) stay indexed
-- in user_lookups; other attributes are filtered in the document.
-- TEXT rather than jsonb: the document is stored and returned exactly as written (key order
-- included), and both backends share one schema.
ALTER TABLE users ADD COLUMN scim_values TEXT NOT NULL DEFAULT '{}';

UPDATE users SET scim_values = d.doc
FROM (
    SELECT user_id, jsonb_object_agg(attribute, val)::text AS doc
    FROM (
        SELECT user_id, attribute,
               CASE WHEN attribute IN ('emails', 'phoneNumbers', 'ims', 'photos', 'addresses', 'entitlements', 'roles', 'x509Certificates')
                    THEN jsonb_agg(COALESCE(raw_json::jsonb, jsonb_strip_nulls(jsonb_build_object(
                        'value', value, 'display', display, 'type', type, 'formatted', formatted,
                        'streetAddress', street_address, 'locality', locality, 'region', region,
                        'postalCode', postal_code, 'country', country, 'primary', is_primary))) ORDER BY position)
                    ELSE COALESCE(max(raw_json)::jsonb, to_jsonb(COALESCE(max(value), '')))
               END AS val
        FROM user_values
        GROUP BY user_id, attribute
    ) v
    GROUP BY user_id
) d
WHERE users.id = d.user_id;

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
);
CREATE INDEX user_lookups_value ON user_lookups (company_id, attribute, value_lower);

INSERT INTO user_lookups (user_id, attribute, position, company_id, value_lower, type, is_primary, display)
SELECT user_id, attribute, position, company_id, value_lower, type, is_primary, display
FROM user_values WHERE attribute = 'emails' OR attribute LIKE 'urn:%';

DROP TABLE user_values;
