-- Rotating the registry key: every stored subject key is re-wrapped with the
-- new key in one transaction, run by the owner role with the API stopped.

-- name: lock_subject_key_tables
-- Nobody writes subject keys while they are being re-wrapped.
LOCK TABLE subject_aggregates, access_subjects, reports, appeals IN EXCLUSIVE MODE;

-- name: report_key_versions
SELECT DISTINCT key_version FROM reports;

-- name: stored_subject_keys
-- Every subject key stored anywhere, once.
SELECT subject_key AS k FROM subject_aggregates UNION
SELECT subject_key FROM access_subjects UNION
SELECT unnest(subject_keys) FROM reports UNION
SELECT unnest(subject_keys) FROM appeals;

-- name: rewrap_subject_keys
-- Replace every stored key $1[i] by $2[i], in every table at once: the map is
-- sent once and joined by hash. Arrays keep their order. Returns how many
-- rows of each table changed (reports and appeals: those holding any key).
WITH rekey_map AS MATERIALIZED (
    SELECT old, new FROM unnest($1::bytea[], $2::bytea[]) AS m(old, new)
), aggregates AS (
    UPDATE subject_aggregates t SET subject_key = m.new
    FROM rekey_map m WHERE t.subject_key = m.old
    RETURNING 1
), access AS (
    UPDATE access_subjects t SET subject_key = m.new
    FROM rekey_map m WHERE t.subject_key = m.old
    RETURNING 1
), report_keys AS (
    SELECT r.id, array_agg(m.new ORDER BY u.i) AS keys
    FROM reports r
    CROSS JOIN LATERAL unnest(r.subject_keys) WITH ORDINALITY AS u(k, i)
    JOIN rekey_map m ON m.old = u.k
    GROUP BY r.id
), rewrapped_reports AS (
    UPDATE reports t SET subject_keys = k.keys FROM report_keys k WHERE t.id = k.id
    RETURNING 1
), appeal_keys AS (
    SELECT a.id, array_agg(m.new ORDER BY u.i) AS keys
    FROM appeals a
    CROSS JOIN LATERAL unnest(a.subject_keys) WITH ORDINALITY AS u(k, i)
    JOIN rekey_map m ON m.old = u.k
    GROUP BY a.id
), rewrapped_appeals AS (
    UPDATE appeals t SET subject_keys = k.keys FROM appeal_keys k WHERE t.id = k.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM aggregates) AS subject_aggregates,
       (SELECT count(*) FROM access) AS access_subjects,
       (SELECT count(*) FROM rewrapped_reports) AS reports,
       (SELECT count(*) FROM rewrapped_appeals) AS appeals;

-- name: set_report_key_version
UPDATE reports SET key_version = $1;
