-- name: ensure_organisation
INSERT INTO organisations (id) VALUES ($1) ON CONFLICT (id) DO NOTHING;

-- name: get_principal_budget
-- The organisation of a principal and its quotas (NULL: the deployment's default).
SELECT o.id AS org_id, o.evaluations_per_day, o.queries_per_day
FROM principals p JOIN organisations o ON o.id = p.org_id
WHERE p.id = $1;

-- name: charge_org_usage
-- $1 org, $2 UTC day, $3 kind, $4 units, $5 the day's quota. Adds the units
-- unless the day's total would pass the quota; no row returned means refused
-- (and nothing added). The row lock serialises concurrent charges of one org.
INSERT INTO org_usage AS u (org_id, day, kind, units)
SELECT $1::text, $2::date, $3::text, $4::bigint WHERE $4::bigint <= $5::bigint
ON CONFLICT (org_id, day, kind) DO UPDATE
SET units = u.units + EXCLUDED.units
WHERE u.units + EXCLUDED.units <= $5::bigint
RETURNING units;

-- name: get_org_usage
SELECT units FROM org_usage WHERE org_id = $1 AND day = $2 AND kind = $3;

-- name: set_org_quota
-- $2/$3 the new quotas (NULL: the default), each applied only when $4/$5 is
-- true; $6/$7 the ceilings, to record whether the result is above one.
WITH new AS (
    SELECT CASE WHEN $4::boolean THEN $2::bigint ELSE o.evaluations_per_day END AS evaluations,
           CASE WHEN $5::boolean THEN $3::bigint ELSE o.queries_per_day END AS queries
    FROM organisations o WHERE o.id = $1
)
UPDATE organisations o
SET evaluations_per_day = new.evaluations, queries_per_day = new.queries,
    quota_above_ceiling = COALESCE(new.evaluations, 0) > $6 OR COALESCE(new.queries, 0) > $7,
    quota_changed_at = now()
FROM new
WHERE o.id = $1
RETURNING o.id, o.evaluations_per_day, o.queries_per_day, o.quota_above_ceiling,
          o.quota_changed_at;

-- name: list_organisations_today
-- Every organisation with its quotas, principals and today's usage, for the
-- gauges and `principals orgs`.
SELECT o.id, o.evaluations_per_day, o.queries_per_day, o.quota_above_ceiling,
       (SELECT count(*) FROM principals p WHERE p.org_id = o.id) AS principals,
       COALESCE(e.units, 0) AS evaluations_today,
       COALESCE(q.units, 0) AS queries_today
FROM organisations o
LEFT JOIN org_usage e ON e.org_id = o.id AND e.day = $1 AND e.kind = 'evaluation'
LEFT JOIN org_usage q ON q.org_id = o.id AND q.day = $1 AND q.kind = 'query'
ORDER BY o.id;
