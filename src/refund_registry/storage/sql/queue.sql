-- The staff work queue and a member's own reports: keyset-paged listings.
-- Plain reads in autocommit; nothing here locks a row.
--
-- The queue's sort key is (closed, at, id): open appeals first, by the
-- deadline of the step they are in (member_response_due while
-- awaiting_member, decision_due while awaiting_adjudication); closed appeals
-- after them, by the time they were closed (decided_at, set exactly when an
-- appeal closes). The expressions are spelled exactly as in the
-- appeals_queue and appeals_member_queue indexes, so that a page walks an
-- index instead of sorting every appeal.

-- name: appeal_queue
-- $1 the reporting member (NULL: every appeal, for adjudicators); $2 a state
-- (NULL: any); $3 only open appeals whose current deadline is before it
-- (NULL: no bound); $4, $5, $6 the key of the last item of the previous page
-- (NULL: from the start); $7 the page size.
SELECT a.id, a.report_id, a.state, a.grounds, a.filed_at, a.member_response_due,
       a.decision_due, a.decided_at, a.member_id, r.category, r.amount_minor, r.currency,
       (a.decided_at IS NOT NULL) AS queue_closed,
       (CASE WHEN a.decided_at IS NOT NULL THEN a.decided_at
             WHEN a.state = 'awaiting_member'
                  THEN COALESCE(a.member_response_due, a.decision_due)
             ELSE a.decision_due END) AS queue_at
FROM appeals a
JOIN reports r ON r.id = a.report_id
WHERE ($1::text IS NULL OR a.member_id = $1::text)
  AND ($2::text IS NULL OR a.state = $2::text)
  AND ($3::timestamptz IS NULL
       OR (a.decided_at IS NULL
           AND (CASE WHEN a.decided_at IS NOT NULL THEN a.decided_at
                     WHEN a.state = 'awaiting_member'
                          THEN COALESCE(a.member_response_due, a.decision_due)
                     ELSE a.decision_due END) < $3::timestamptz))
  AND ($4::boolean IS NULL
       OR ((a.decided_at IS NOT NULL),
           (CASE WHEN a.decided_at IS NOT NULL THEN a.decided_at
                 WHEN a.state = 'awaiting_member'
                      THEN COALESCE(a.member_response_due, a.decision_due)
                 ELSE a.decision_due END),
           a.id) > ($4::boolean, $5::timestamptz, $6::text))
ORDER BY (a.decided_at IS NOT NULL),
         (CASE WHEN a.decided_at IS NOT NULL THEN a.decided_at
               WHEN a.state = 'awaiting_member'
                    THEN COALESCE(a.member_response_due, a.decision_due)
               ELSE a.decision_due END),
         a.id
LIMIT $7;

-- name: member_reports
-- A member's own reports, newest filing first. $2 a status (NULL: any);
-- $3, $4 the (filed_at, id) of the last item of the previous page (NULL:
-- from the start); $5 the page size.
SELECT id, member_id, case_reference, category, amount_minor, currency, order_date,
       refund_date, confirmed_at, buyer_notified_at, filed_at, evidence_kinds,
       evidence_digest, identifier_kinds, status, status_changed_at, status_reason,
       expires_at, receipt, subject_keys
FROM reports
WHERE member_id = $1
  AND ($2::text IS NULL OR status = $2::text)
  AND ($3::timestamptz IS NULL OR (filed_at, id) < ($3::timestamptz, $4::text))
ORDER BY filed_at DESC, id DESC
LIMIT $5;
