-- Buyer sign-in: one-time codes, sessions and used hand-off tokens
-- (storage/buyer_sessions.py). No row holds a raw identifier.

-- name: buyer_code_issued_at
-- When the pending code of this identifier was sent (no row: none pending).
SELECT issued_at FROM buyer_codes WHERE subject_key = $1;

-- name: buyer_code_put
-- Store a new code, replacing the pending one unless that was sent after $5
-- (the pacing between two codes); no row returned means "too soon".
INSERT INTO buyer_codes AS c (subject_key, digest, issued_at, expires_at, tries)
VALUES ($1, $2, $3, $4, 0)
ON CONFLICT (subject_key) DO UPDATE
    SET digest = EXCLUDED.digest, issued_at = EXCLUDED.issued_at,
        expires_at = EXCLUDED.expires_at, tries = 0
    WHERE c.issued_at <= $5
RETURNING c.issued_at;

-- name: buyer_code_lock
-- The pending code of this identifier, locked: concurrent guesses queue here,
-- so no more tries than allowed are ever judged.
SELECT subject_key, digest, issued_at, tries FROM buyer_codes WHERE subject_key = $1
FOR UPDATE;

-- name: buyer_code_set_tries
UPDATE buyer_codes SET tries = $2 WHERE subject_key = $1;

-- name: buyer_code_delete
DELETE FROM buyer_codes WHERE subject_key = $1;

-- name: buyer_session_insert
INSERT INTO buyer_sessions (id, digest, subject_keys, via_member, created_at, last_seen_at,
                            expires_at)
VALUES ($1, $2, $3::bytea[], $4, $5, $5, $6);

-- name: buyer_session_by_digest
SELECT id, subject_keys, via_member, created_at, last_seen_at
FROM buyer_sessions WHERE digest = $1;

-- name: buyer_session_touch
-- Compare-and-set on the time read: of two requests at once, one moves it.
UPDATE buyer_sessions SET last_seen_at = greatest(last_seen_at, $2) WHERE id = $1;

-- name: buyer_session_delete
DELETE FROM buyer_sessions WHERE digest = $1;

-- name: buyer_session_delete_id
DELETE FROM buyer_sessions WHERE id = $1;

-- name: buyer_handoff_claim
-- Single use of a subject token: no row returned means it was exchanged before.
INSERT INTO buyer_handoffs (issuer, jti, used_at, keep_until) VALUES ($1, $2, $3, $4)
ON CONFLICT (issuer, jti) DO NOTHING
RETURNING jti;

-- name: buyer_last_contact
-- The latest time member $1 reported or queried any of these subjects since $3:
-- a report of its own under one of the keys, or a risk query it made naming one.
SELECT greatest(
    (SELECT max(r.filed_at) FROM reports r
     WHERE r.member_id = $1 AND r.subject_keys && $2::bytea[] AND r.filed_at >= $3),
    (SELECT max(l.at) FROM access_log l
     WHERE l.actor = $1 AND l.action = 'risk.query' AND l.at >= $3
       AND l.leaf_hash IN (SELECT s.leaf_hash FROM access_subjects s
                           WHERE s.subject_key = ANY($2::bytea[]) AND s.at >= $3))
) AS last_contact;

-- name: buyer_purge_codes
DELETE FROM buyer_codes
WHERE subject_key IN (SELECT subject_key FROM buyer_codes WHERE expires_at <= $1 LIMIT $2);

-- name: buyer_purge_sessions
-- Past their absolute end ($1) or idle since before $2.
DELETE FROM buyer_sessions
WHERE id IN (SELECT id FROM buyer_sessions WHERE expires_at <= $1 LIMIT $3)
   OR id IN (SELECT id FROM buyer_sessions WHERE last_seen_at <= $2 LIMIT $3);

-- name: buyer_purge_handoffs
DELETE FROM buyer_handoffs h
USING (SELECT issuer, jti FROM buyer_handoffs WHERE keep_until <= $1 LIMIT $2) AS doomed
WHERE h.issuer = doomed.issuer AND h.jti = doomed.jti;
