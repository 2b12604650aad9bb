-- The durable replay record: one row per used `iss:jti`, kept until the token
-- expires. Written while Redis is unreachable (REGISTRY_JTI_FALLBACK=database).

-- name: used_jtis_claim
INSERT INTO used_jtis (key, expires_at)
SELECT key, expires_at FROM unnest($1::text[], $2::timestamptz[]) AS c (key, expires_at)
ON CONFLICT DO NOTHING
RETURNING key;

-- name: used_jtis_prune
DELETE FROM used_jtis WHERE expires_at < $1;
