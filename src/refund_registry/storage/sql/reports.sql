-- Report rows: filing, reading, status changes (compare-and-set) and retention.
-- Every writer locks the report row first, then its subjects' aggregates.

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

-- name: subject_reports
-- Every report still holding one of these subject keys (expired reports have
-- none left), with the kinds through which it matched.
SELECT r.id, r.category, r.amount_minor, r.currency, r.order_date, r.refund_date,
       r.confirmed_at, r.filed_at, r.status, r.status_changed_at, r.expires_at,
       p.name AS member_name,
       ARRAY(SELECT DISTINCT u.kind
             FROM unnest(r.subject_keys, r.identifier_kinds) AS u(subject_key, kind)
             WHERE u.subject_key = ANY($1::bytea[])
             ORDER BY u.kind) AS matched_kinds
FROM reports r
LEFT JOIN principals p ON p.id = r.member_id
WHERE r.subject_keys && $1::bytea[]
ORDER BY r.confirmed_at DESC, r.id;

-- name: insert_access_entry
-- An access-log entry written inside the transaction of the change it records
-- (report filing and retraction), so the two commit or fail together.
INSERT INTO access_log (at, actor, role, action, purpose, outcome, query_id, request_digest,
                        entry, leaf_hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: insert_access_subjects
INSERT INTO access_subjects (subject_key, leaf_hash, salt, at)
SELECT k, $2, s, $4 FROM unnest($1::bytea[], $3::bytea[]) AS t(k, s);
