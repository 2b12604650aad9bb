-- Appeals and subject access (SPEC section 6). Lock order, shared with the
-- ledger: the report row first, then the subject aggregate rows in key order;
-- an appeal row is only ever changed while its report row is locked.

-- name: insert_appeal
INSERT INTO appeals (
    id, report_id, member_id, filed_via, subject_keys, grounds, statement, state,
    filed_at, member_response_due, decision_due)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);

-- name: appeal_report_id
-- Unlocked: only to find which report row to lock first.
SELECT report_id FROM appeals WHERE id = $1;

-- name: get_appeal
SELECT id, report_id, member_id, filed_via, grounds, statement, state, member_summary,
       decision_rationale, closed_reason, filed_at, member_response_due, decision_due,
       answered_at, decided_at, version
FROM appeals WHERE id = $1;

-- name: get_appeals
SELECT id, report_id, member_id, filed_via, grounds, statement, state, member_summary,
       decision_rationale, closed_reason, filed_at, member_response_due, decision_due,
       answered_at, decided_at, version
FROM appeals WHERE id = ANY($1::text[]);

-- name: open_appeal_of_report
SELECT id, report_id, member_id, filed_via, grounds, statement, state, member_summary,
       decision_rationale, closed_reason, filed_at, member_response_due, decision_due,
       answered_at, decided_at, version
FROM appeals
WHERE report_id = $1 AND state IN ('awaiting_member', 'awaiting_adjudication');

-- name: set_appeal_state
-- Compare-and-set on the state: zero rows means the appeal moved first. The
-- texts are set only by the transition that supplies them (NULL keeps them);
-- $8, the decision time, is NULL while the appeal stays open.
UPDATE appeals SET
    state = $3,
    member_summary = COALESCE($4, member_summary),
    decision_rationale = COALESCE($5, decision_rationale),
    closed_reason = COALESCE($6, closed_reason),
    answered_at = COALESCE($7::timestamptz, answered_at),
    decided_at = $8::timestamptz,
    version = version + 1
WHERE id = $1 AND state = $2
RETURNING version;

-- name: appeal_state
SELECT state FROM appeals WHERE id = $1;

-- name: appeal_report
-- What the parties to an appeal may see of the contested report.
SELECT r.id, r.member_id, r.case_reference, r.category, r.amount_minor, r.currency,
       r.order_date, r.refund_date, r.confirmed_at, r.filed_at, r.evidence_digest,
       r.status, r.status_changed_at, r.subject_keys, p.name AS member_name
FROM reports r LEFT JOIN principals p ON p.id = r.member_id
WHERE r.id = $1;

-- name: appeal_history
-- The appeal's own events, and what the ledger did to the report meanwhile
-- (a retraction or expiry by another route). Corrections sent to querying
-- members carry no appeal id and so never show here.
SELECT id, at, type, data FROM events
WHERE appeal_id = $1
   OR (report_id = $2 AND appeal_id IS NULL
       AND type IN ('report.retracted', 'report.expired') AND at >= $3)
ORDER BY id;

-- name: claim_due_appeals
-- Open appeals whose governing deadline has passed by $1, or whose report
-- left `disputed` by another route (retracted, expired). The report row is
-- locked (lock order) and returned as it stands under the lock; SKIP LOCKED
-- lets several workers share the work.
SELECT a.id AS appeal_id, r.id, r.member_id, r.status, r.subject_keys
FROM appeals a JOIN reports r ON r.id = a.report_id
WHERE a.state IN ('awaiting_member', 'awaiting_adjudication')
  AND (CASE a.state WHEN 'awaiting_member' THEN a.member_response_due
                    ELSE a.decision_due END <= $1
       OR r.status <> 'disputed')
ORDER BY a.member_response_due, a.id
LIMIT $2
FOR UPDATE OF r SKIP LOCKED;

-- name: queriers_of_subjects
-- Members whose risk queries named any of these subject keys in ($2, $3],
-- each with its own query ids: who must hear that a report was overturned.
SELECT l.actor AS member_id,
       array_agg(DISTINCT l.query_id ORDER BY l.query_id) AS query_ids,
       max(l.at) AS last_queried_at
FROM access_log l
WHERE l.action = 'risk.query'
  AND l.query_id IS NOT NULL
  AND l.leaf_hash IN (SELECT s.leaf_hash FROM access_subjects s
                      WHERE s.subject_key = ANY($1::bytea[]) AND s.at > $2 AND s.at <= $3)
GROUP BY l.actor
ORDER BY l.actor;

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

-- name: subject_inquiries
-- Risk queries naming any of these subject keys since $2; one row per query
-- even when it named several of them.
SELECT l.at, l.purpose, p.name AS member_name
FROM access_log l LEFT JOIN principals p ON p.id = l.actor
WHERE l.action = 'risk.query'
  AND l.leaf_hash IN (SELECT s.leaf_hash FROM access_subjects s
                      WHERE s.subject_key = ANY($1::bytea[]) AND s.at >= $2)
ORDER BY l.at DESC, l.id DESC;

-- name: appeals_of_reports
SELECT id, report_id, state, grounds, filed_at, member_response_due, decision_due,
       decided_at, closed_reason
FROM appeals WHERE report_id = ANY($1::text[])
ORDER BY filed_at, id;

-- name: subject_statement
SELECT statement FROM subject_aggregates
WHERE subject_key = ANY($1::bytea[]) AND statement IS NOT NULL
ORDER BY updated_at DESC
LIMIT 1;

-- name: upheld_appeal_exists
-- An appeal decided against a filer holding any of these subject keys.
SELECT EXISTS (SELECT 1 FROM appeals
               WHERE state = 'upheld' AND subject_keys && $1::bytea[]);

-- name: set_statement
-- The caller holds the aggregate row locks (taken in key order).
UPDATE subject_aggregates SET statement = $2, version = version + 1, updated_at = now()
WHERE subject_key = ANY($1::bytea[])
RETURNING subject_key;

-- name: erase_appeal_subjects
-- Retention: when a report expires, its appeals stop naming the buyer.
UPDATE appeals SET subject_keys = '{}' WHERE report_id = ANY($1::text[]);
