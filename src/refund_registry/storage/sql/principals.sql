-- name: insert_principal
-- $4 the organisation (already there); NULL gives the principal one of its own.
INSERT INTO principals (id, name, role, org_id) VALUES ($1, $2, $3, $4);

-- name: insert_key
INSERT INTO principal_keys (kid, principal_id, alg, public_key_pem) VALUES ($1, $2, $3, $4);

-- name: get_key
SELECT k.kid, k.principal_id, k.alg, k.public_key_pem, k.revoked_at,
       p.role, p.status, p.name
FROM principal_keys k JOIN principals p ON p.id = k.principal_id
WHERE k.kid = $1;

-- name: list_principals
SELECT p.id, p.name, p.role, p.status, p.org_id, p.created_at,
       COALESCE(array_agg(k.kid ORDER BY k.created_at) FILTER (WHERE k.kid IS NOT NULL
                AND k.revoked_at IS NULL), '{}') AS active_kids
FROM principals p LEFT JOIN principal_keys k ON k.principal_id = p.id
GROUP BY p.id ORDER BY p.created_at, p.id;

-- name: set_principal_status
UPDATE principals SET status = $2, changed_at = now()
WHERE id = $1 AND status <> 'revoked'
RETURNING id, status;

-- name: revoke_key
UPDATE principal_keys SET revoked_at = now()
WHERE kid = $1 AND revoked_at IS NULL
RETURNING kid, principal_id;

-- name: get_principal
SELECT id, name, role, status FROM principals WHERE id = $1;

-- name: key_holder
SELECT k.principal_id, p.name, p.role, p.status, k.revoked_at
FROM principal_keys k JOIN principals p ON p.id = k.principal_id
WHERE k.kid = $1;

-- name: get_principal_detail
SELECT id, name, role, status, org_id, created_at, changed_at FROM principals WHERE id = $1;

-- name: list_principal_keys
SELECT kid, alg, created_at, revoked_at FROM principal_keys
WHERE principal_id = $1
ORDER BY created_at, kid;
