-- Appeals and subject access. Lock order, shared with the
-- ledger: the report row first, then the subject aggregate rows in key order;
-- an appeal row is only ever changed while its report row is locked.

-- name: insert_appeal
-- $4, the member the buyer filed through, is NULL when the buyer filed
-- directly; $12, the member summary, is set only for an appeal on new
-- evidence (the decided appeal's summary stands), as is a NULL $10.
INSERT INTO appeals (
    id, report_id, member_id, filed_via, subject_keys, grounds, statement, state,
    filed_at, member_response_due, decision_due, member_summary)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: appeal_report_id
-- Unlocked: only to find which report row to lock first.
SELECT report_id FROM appeals WHERE id = $1;

-- name: get_appeal
SELECT id, report_id, member_id, filed_via, withdrawn_via, grounds, statement, state,
       member_summary, decision_rationale, closed_reason, filed_at, member_response_due,
       decision_due, answered_at, decided_at, version
FROM appeals WHERE id = $1;

-- name: get_appeals
SELECT id, report_id, member_id, filed_via, withdrawn_via, grounds, statement, state,
       member_summary, decision_rationale, closed_reason, filed_at, member_response_due,
       decision_due, answered_at, decided_at, version
FROM appeals WHERE id = ANY($1::text[]);

-- name: open_appeal_of_report
SELECT id, report_id, member_id, filed_via, withdrawn_via, grounds, statement, state,
       member_summary, decision_rationale, closed_reason, filed_at, member_response_due,
       decision_due, answered_at, decided_at, version
FROM appeals
WHERE report_id = $1 AND state IN ('awaiting_member', 'awaiting_adjudication');

-- name: set_appeal_state
-- Compare-and-set on the state: zero rows means the appeal moved first. The
-- texts are set only by the transition that supplies them (NULL keeps them);
-- $8, the decision time, is NULL while the appeal stays open. $9, the member
-- the buyer withdrew through, is recorded by a withdrawal only (NULL: the
-- buyer withdrew directly).
UPDATE appeals SET
    state = $3,
    member_summary = COALESCE($4, member_summary),
    decision_rationale = COALESCE($5, decision_rationale),
    closed_reason = COALESCE($6, closed_reason),
    answered_at = COALESCE($7::timestamptz, answered_at),
    decided_at = $8::timestamptz,
    withdrawn_via = CASE WHEN $3 = 'withdrawn' THEN $9::text ELSE withdrawn_via END,
    version = version + 1
WHERE id = $1 AND state = $2
RETURNING version;

-- name: previous_appeals_of_report
-- Every appeal of the report so far, for the limits on appealing it again.
-- Read under the report row lock, so no appeal of it can start or end meanwhile.
SELECT id, state, filed_at, decided_at, member_summary
FROM appeals WHERE report_id = $1
ORDER BY filed_at, id;

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

-- name: appeals_of_reports
SELECT id, report_id, state, grounds, filed_at, member_response_due, decision_due,
       decided_at, closed_reason
FROM appeals WHERE report_id = ANY($1::text[])
ORDER BY filed_at, id;

-- name: upheld_appeal_exists
-- An appeal decided against a filer holding any of these subject keys.
SELECT EXISTS (SELECT 1 FROM appeals
               WHERE state = 'upheld' AND subject_keys && $1::bytea[]);

-- name: erase_appeal_subjects
-- Retention: when a report expires, its appeals stop naming the buyer.
UPDATE appeals SET subject_keys = '{}' WHERE report_id = ANY($1::text[]);
