-- Subject aggregate rows: one per subject key, holding the scorer's facts and
-- the counts derived from them. Writers lock them in key order.

-- name: create_aggregates
-- Phase one of every writer that adds reports to subjects: create the rows of
-- subjects that have none, already holding their final values, in key order.
-- Returns the keys it created; the others existed (or were created by a
-- transaction that committed meanwhile: ON CONFLICT waits for it) and are then
-- locked with lock_aggregates, phase two, also in key order.
INSERT INTO subject_aggregates (
    subject_key, kind, active_reports, disputed, platforms, latest_confirmed_at, facts, version)
SELECT k, kd, a, d, p, l, f::jsonb, 1
FROM unnest($1::bytea[], $2::text[], $3::int[], $4::int[], $5::int[], $6::timestamptz[],
            $7::text[]) AS u(k, kd, a, d, p, l, f)
ORDER BY k
ON CONFLICT (subject_key) DO NOTHING
RETURNING subject_key;

-- name: existing_aggregates
SELECT subject_key FROM subject_aggregates WHERE subject_key = ANY($1::bytea[]);

-- name: lock_aggregates
SELECT subject_key, facts FROM subject_aggregates
WHERE subject_key = ANY($1::bytea[])
ORDER BY subject_key
FOR UPDATE;

-- name: write_aggregates
-- The caller holds the row locks and computed every value from the facts
-- (sent as JSON text: a list of lists would read as a two-dimensional array).
UPDATE subject_aggregates a SET
    active_reports = u.active,
    disputed = u.disputed,
    platforms = u.platforms,
    latest_confirmed_at = u.latest,
    facts = u.facts::jsonb,
    version = a.version + 1,
    updated_at = now()
FROM unnest($1::bytea[], $2::int[], $3::int[], $4::int[], $5::timestamptz[], $6::text[])
    AS u(k, active, disputed, platforms, latest, facts)
WHERE a.subject_key = u.k;

-- name: recompute_aggregates
-- The aggregates as they follow from the reports themselves: the oracle that
-- tests and operators' consistency checks compare the maintained rows with.
SELECT rs.subject_key,
       count(*) FILTER (WHERE r.status IN ('active', 'disputed')) AS active_reports,
       count(*) FILTER (WHERE r.status = 'disputed') AS disputed,
       count(DISTINCT r.member_id) FILTER (WHERE r.status IN ('active', 'disputed'))
           AS platforms,
       max(r.confirmed_at) FILTER (WHERE r.status IN ('active', 'disputed'))
           AS latest_confirmed_at
FROM reports r, unnest(r.subject_keys) AS rs(subject_key)
GROUP BY rs.subject_key;

-- name: drop_empty_aggregates
-- A subject with nothing left on record keeps no row (and so no subject key).
DELETE FROM subject_aggregates
WHERE subject_key = ANY($1::bytea[]) AND facts = '[]'::jsonb AND statement IS NULL
  AND NOT EXISTS (SELECT 1 FROM reports r
                  WHERE r.subject_keys @> ARRAY[subject_aggregates.subject_key]);

-- name: lookup_subjects
SELECT subject_key, kind, facts, statement FROM subject_aggregates
WHERE subject_key = ANY($1::bytea[]);

-- name: subject_statement
SELECT statement FROM subject_aggregates
WHERE subject_key = ANY($1::bytea[]) AND statement IS NOT NULL
ORDER BY updated_at DESC
LIMIT 1;

-- name: set_statement
-- The caller holds the aggregate row locks (taken in key order).
UPDATE subject_aggregates SET statement = $2, version = version + 1, updated_at = now()
WHERE subject_key = ANY($1::bytea[])
RETURNING subject_key;
