-- The durable replay record.
--
-- While Redis is unreachable the API records each signed request's `iss:jti`
-- here (REGISTRY_JTI_FALLBACK=database), so that a token is accepted once
-- across every API process; a worker duty deletes the rows of expired tokens.

CREATE TABLE used_jtis (
    key        text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

CREATE INDEX used_jtis_expires_at ON used_jtis (expires_at);

GRANT SELECT, INSERT, DELETE ON used_jtis TO registry_app;
-- The key service verifies signed requests too and follows the same policy.
GRANT SELECT, INSERT ON used_jtis TO registry_keyservice_app;
