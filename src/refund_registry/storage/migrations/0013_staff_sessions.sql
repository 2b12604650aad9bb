-- Staff in the browser: one-time sign-in links, console sessions, the
-- identity provider's subjects mapped to principals, and OpenID Connect
-- sign-ins in progress.
--
-- No bearer value is stored: a link or a session is kept as the SHA-256 of its
-- token. Rows are short-lived; the sign-in service deletes expired ones as it
-- goes (links after 10 minutes, sessions at their idle or absolute end,
-- pending OpenID Connect sign-ins after 10 minutes).

CREATE TABLE staff_links (
    digest        bytea PRIMARY KEY CHECK (length(digest) = 32),
    principal_id  text NOT NULL REFERENCES principals (id),
    issued_at     timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL CHECK (expires_at > issued_at),
    used_at       timestamptz CHECK (used_at >= issued_at)
);
CREATE INDEX staff_links_expiry ON staff_links (expires_at);

-- `id` is public: it names the session in the access log (as the request).
-- `method` says how the session was opened: a printed link or the IdP.
CREATE TABLE staff_sessions (
    id             text PRIMARY KEY,
    digest         bytea NOT NULL UNIQUE CHECK (length(digest) = 32),
    principal_id   text NOT NULL REFERENCES principals (id),
    method         text NOT NULL CHECK (method IN ('link', 'oidc')),
    created_at     timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL CHECK (last_seen_at >= created_at),
    expires_at     timestamptz NOT NULL CHECK (expires_at > created_at)
);
CREATE INDEX staff_sessions_expiry ON staff_sessions (expires_at);
CREATE INDEX staff_sessions_principal ON staff_sessions (principal_id);

-- Which registry principal an identity provider's subject signs in as. One
-- principal may have several subjects (several providers, or staff of one
-- member); a subject maps to exactly one principal.
CREATE TABLE staff_oidc_subjects (
    issuer        text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 500),
    subject       text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
    principal_id  text NOT NULL REFERENCES principals (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX staff_oidc_subjects_principal ON staff_oidc_subjects (principal_id);

-- An authorization request on its way to the provider and back: found by its
-- `state`, bound to the browser that started it (`binding`: SHA-256 of a
-- value in that browser's cookie), used once.
CREATE TABLE staff_oidc_logins (
    state          text PRIMARY KEY CHECK (length(state) BETWEEN 16 AND 128),
    binding        bytea NOT NULL CHECK (length(binding) = 32),
    nonce          text NOT NULL CHECK (length(nonce) BETWEEN 16 AND 128),
    code_verifier  text NOT NULL CHECK (length(code_verifier) BETWEEN 43 AND 128),
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL CHECK (expires_at > created_at)
);
CREATE INDEX staff_oidc_logins_expiry ON staff_oidc_logins (expires_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON staff_links, staff_sessions, staff_oidc_logins
    TO registry_app;
GRANT SELECT, INSERT, DELETE ON staff_oidc_subjects TO registry_app;
