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

-- name: insert_report
INSERT INTO reports (
    id, member_id, case_reference, request_hash, category, amount_minor, currency,
    order_date, refund_date, confirmed_at, buyer_notified_at, filed_at, evidence_kinds,
    evidence_digest, identifier_kinds, subject_keys, key_version, status, status_changed_at,
    expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
        'active', $12, $18)
ON CONFLICT (member_id, case_reference) DO NOTHING
RETURNING id;

-- name: report_by_case
SELECT id, request_hash, status, expires_at, receipt
FROM reports WHERE member_id = $1 AND case_reference = $2;

-- name: reports_by_cases
SELECT case_reference, id, request_hash FROM reports
WHERE member_id = $1 AND case_reference = ANY($2::text[]);

-- name: insert_event
INSERT INTO events (at, type, member_id, report_id, appeal_id, data)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: get_report
SELECT id, member_id, case_reference, category, amount_minor, currency, order_date,
       refund_date, confirmed_at, buyer_notified_at, filed_at, evidence_kinds,
       evidence_digest, identifier_kinds, status, status_changed_at, status_reason,
       expires_at, receipt, subject_keys
FROM reports WHERE id = $1 AND member_id = $2;

-- name: lock_report
SELECT id, member_id, status, subject_keys FROM reports WHERE id = $1 FOR UPDATE;

-- name: set_report_status
-- Compare-and-set: zero rows means somebody else changed the report first.
UPDATE reports SET status = $3, status_changed_at = $4, status_reason = $5
WHERE id = $1 AND status = $2
RETURNING id;

-- name: set_receipt
UPDATE reports SET receipt = $2 WHERE id = $1;

-- name: set_expiry
UPDATE reports r SET expires_at = u.e
FROM unnest($1::text[], $2::timestamptz[]) AS u(id, e)
WHERE r.id = u.id;

-- name: member_feed
-- Only transactions older than every running one are shown (txid below the
-- snapshot's xmin), ordered by (txid, id): an event that commits late always
-- sorts after every cursor already handed out, so paging never skips it.
SELECT id, txid::text AS txid, at, type, report_id, appeal_id, data
FROM events
WHERE member_id = $1
  AND (txid, id) > ($2::xid8, $3::bigint)
  AND txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY txid, id
LIMIT $4;

-- name: expire_due
-- Reports whose retention ended and that still hold subject keys (whatever
-- their status); SKIP LOCKED lets several workers share the work.
SELECT id, member_id, status, subject_keys FROM reports
WHERE subject_keys <> '{}' AND expires_at <= $1
ORDER BY expires_at
LIMIT $2
FOR UPDATE SKIP LOCKED;

-- name: expire_reports
UPDATE reports SET
    status = CASE WHEN status IN ('active', 'disputed') THEN 'expired' ELSE status END,
    status_changed_at = CASE WHEN status IN ('active', 'disputed') THEN $2
                             ELSE status_changed_at END,
    status_reason = CASE WHEN status IN ('active', 'disputed') THEN 'retention period ended'
                         ELSE status_reason END,
    subject_keys = '{}'
WHERE id = ANY($1::text[]);

-- name: drop_empty_aggregates
-- A subject with nothing left on record keeps no row (and so no subject key).
DELETE FROM subject_aggregates
WHERE subject_key = ANY($1::bytea[]) AND facts = '[]'::jsonb AND statement IS NULL
  AND NOT EXISTS (SELECT 1 FROM reports r
                  WHERE r.subject_keys @> ARRAY[subject_aggregates.subject_key]);

-- name: lookup_subjects
SELECT subject_key, kind, facts, statement FROM subject_aggregates
WHERE subject_key = ANY($1::bytea[]);

-- name: insert_access_entry
-- An access-log entry written inside the transaction of the change it records
-- (report filing and retraction), so the two commit or fail together.
INSERT INTO access_log (at, actor, role, action, purpose, outcome, query_id, request_digest,
                        entry, leaf_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: insert_access_subjects
INSERT INTO access_subjects (subject_key, leaf_hash, salt, at)
SELECT k, $2, s, $4 FROM unnest($1::bytea[], $3::bytea[]) AS t(k, s);
