-- Buyer access: one-time codes, buyer sessions, used hand-off tokens, and the
-- registry's own portal principal.
--
-- Nothing here holds a phone number or an e-mail address. A code is stored as
-- HMAC(code key, subject key | code) under the subject key of the identifier
-- it was sent to; a session as SHA-256 of its token, with the subject keys it
-- proved. Rows are short-lived: the sign-in service deletes expired ones as it
-- goes (codes after 10 minutes, sessions at their idle or absolute end,
-- hand-off ids once their token could no longer be accepted).

-- The portal principal: the registry itself, deriving pseudonyms of buyers who
-- sign in directly. It may only ask the key service for evaluations.
ALTER TABLE principals DROP CONSTRAINT principals_role_check;
ALTER TABLE principals ADD CONSTRAINT principals_role_check
    CHECK (role IN ('member', 'adjudicator', 'auditor', 'admin', 'portal'));

-- At most one pending code per identifier: a new code replaces the old one,
-- and `issued_at` paces how often one may be sent.
CREATE TABLE buyer_codes (
    subject_key  bytea PRIMARY KEY CHECK (length(subject_key) = 32),
    digest       bytea NOT NULL CHECK (length(digest) = 32),
    issued_at    timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL CHECK (expires_at > issued_at),
    tries        smallint NOT NULL DEFAULT 0 CHECK (tries BETWEEN 0 AND 5)
);
CREATE INDEX buyer_codes_expiry ON buyer_codes (expires_at);

-- `id` is public (it names the session in the access log); `digest` is the
-- only form of the bearer value. `via_member` is the member that handed the
-- buyer over, NULL when the buyer signed in with a code.
CREATE TABLE buyer_sessions (
    id             text PRIMARY KEY,
    digest         bytea NOT NULL UNIQUE CHECK (length(digest) = 32),
    subject_keys   bytea[] NOT NULL CHECK (cardinality(subject_keys) BETWEEN 1 AND 10),
    via_member     text REFERENCES principals (id),
    created_at     timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL CHECK (last_seen_at >= created_at),
    expires_at     timestamptz NOT NULL CHECK (expires_at > created_at)
);
CREATE INDEX buyer_sessions_expiry ON buyer_sessions (expires_at);
CREATE INDEX buyer_sessions_idle ON buyer_sessions (last_seen_at);

-- A subject token is exchanged once: its (issuer, jti) is kept until the
-- token could no longer be accepted anyway.
CREATE TABLE buyer_handoffs (
    issuer      text NOT NULL REFERENCES principals (id),
    jti         text NOT NULL CHECK (length(jti) BETWEEN 8 AND 128),
    used_at     timestamptz NOT NULL,
    keep_until  timestamptz NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX buyer_handoffs_keep ON buyer_handoffs (keep_until);

GRANT SELECT, INSERT, UPDATE, DELETE ON buyer_codes, buyer_sessions TO registry_app;
GRANT SELECT, INSERT, DELETE ON buyer_handoffs TO registry_app;
REVOKE UPDATE, TRUNCATE ON buyer_handoffs FROM registry_app;
