-- Staff sign-in: one-time links, console sessions, identity-provider subjects
-- and OpenID Connect sign-ins in progress (storage/staff_sessions.py).

-- name: staff_principal
SELECT id, name, role, status FROM principals WHERE id = $1;

-- name: staff_link_insert
INSERT INTO staff_links (digest, principal_id, issued_at, expires_at) VALUES ($1, $2, $3, $4);

-- name: staff_link_use
-- Single use: the link is marked used by the one statement that finds it
-- unused and unexpired; no row returned means it cannot open a session.
UPDATE staff_links SET used_at = $2
WHERE digest = $1 AND used_at IS NULL AND expires_at > $2 AND issued_at <= $2
RETURNING principal_id, issued_at;

-- name: staff_link_purge
DELETE FROM staff_links WHERE ctid IN (
    SELECT ctid FROM staff_links WHERE expires_at <= $1 LIMIT $2
);

-- name: staff_session_insert
INSERT INTO staff_sessions (id, digest, principal_id, method, created_at, last_seen_at,
                            expires_at)
VALUES ($1, $2, $3, $4, $5, $5, $6);

-- name: staff_session_by_digest
-- The session and its principal as they are now: a suspended or revoked
-- principal's session is refused on its very next request.
SELECT s.id, s.principal_id, s.method, s.created_at, s.last_seen_at,
       p.name, p.role, p.status
FROM staff_sessions s JOIN principals p ON p.id = s.principal_id
WHERE s.digest = $1;

-- name: staff_session_touch
UPDATE staff_sessions SET last_seen_at = greatest(last_seen_at, $2) WHERE id = $1;

-- name: staff_session_delete
DELETE FROM staff_sessions WHERE digest = $1;

-- name: staff_session_delete_id
DELETE FROM staff_sessions WHERE id = $1;

-- name: staff_session_purge
DELETE FROM staff_sessions WHERE ctid IN (
    SELECT ctid FROM staff_sessions WHERE expires_at <= $1 OR last_seen_at <= $2 LIMIT $3
);

-- name: staff_oidc_map
-- Map an identity provider's subject to a principal (replacing an older mapping).
INSERT INTO staff_oidc_subjects (issuer, subject, principal_id) VALUES ($1, $2, $3)
ON CONFLICT (issuer, subject) DO UPDATE SET principal_id = EXCLUDED.principal_id,
    created_at = now()
RETURNING issuer, subject, principal_id;

-- name: staff_oidc_principal
SELECT principal_id FROM staff_oidc_subjects WHERE issuer = $1 AND subject = $2;

-- name: staff_oidc_unmap
DELETE FROM staff_oidc_subjects WHERE issuer = $1 AND subject = $2 RETURNING principal_id;

-- name: staff_oidc_login_insert
INSERT INTO staff_oidc_logins (state, binding, nonce, code_verifier, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: staff_oidc_login_take
-- Single use: the pending sign-in is deleted as it is read.
DELETE FROM staff_oidc_logins WHERE state = $1
RETURNING binding, nonce, code_verifier, expires_at;

-- name: staff_oidc_login_purge
DELETE FROM staff_oidc_logins WHERE ctid IN (
    SELECT ctid FROM staff_oidc_logins WHERE expires_at <= $1 LIMIT $2
);
