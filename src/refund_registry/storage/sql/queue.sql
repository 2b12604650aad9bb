-- The staff work queue and a member's own reports: keyset-paged listings.
-- Plain reads in autocommit; nothing here locks a row.
--
-- The queue's sort key is (closed, at, id): open appeals first, by the
-- deadline of the step they are in (member_response_due while
-- awaiting_member, decision_due while awaiting_adjudication); closed appeals
-- after them, by the time they were closed (decided_at, set exactly when an
-- appeal closes). The expressions are spelled exactly as in the
-- appeals_queue and appeals_member_queue indexes, and the position after a
-- cursor is one row comparison with no NULL test around it, so that a page
-- is a short index range scan, whatever page it is and whichever plan the
-- prepared statement ends up with.

-- name: appeal_queue
-- Every appeal, for adjudicators. $1 a state (NULL: any); $2 only open
-- appeals whose current deadline is before it (NULL: no bound); $3, $4, $5
-- the key of the last item of the previous page (the first page passes
-- false, -infinity, ''); $6 the page size.
-- The page is chosen from the appeals alone, then joined to its reports.
WITH page AS (
    SELECT a.id, a.report_id, a.state, a.grounds, a.filed_at, a.member_response_due,
           a.decision_due, a.decided_at, a.member_id,
           (a.decided_at IS NOT NULL) AS queue_closed,
           (CASE WHEN a.decided_at IS NOT NULL THEN a.decided_at
                 WHEN a.state = 'awaiting_member'
                      THEN COALESCE(a.member_response_due, a.decision_due)
                 ELSE a.decision_due END) AS queue_at
    FROM appeals a
    WHERE ($1::text IS NULL OR a.state = $1::text)
      AND ($2::timestamptz IS NULL
           OR (a.decided_at IS NULL
               AND (CASE WHEN a.decided_at IS NOT NULL THEN a.decided_at
                 WHEN a.state = 'awaiting_member'
                      THEN COALESCE(a.member_response_due, a.decision_due)
                 ELSE a.decision_due END) < $2::timestamptz))
      AND ((a.decided_at IS NOT NULL),
           (CASE WHEN a.decided_at IS NOT NULL THEN a.decided_at
                 WHEN a.state = 'awaiting_member'
                      THEN COALESCE(a.member_response_due, a.decision_due)
                 ELSE a.decision_due END),
           a.id) > ($3::boolean, $4::timestamptz, $5::text)
    ORDER BY (a.decided_at IS NOT NULL),
             (CASE WHEN a.decided_at IS NOT NULL THEN a.decided_at
                 WHEN a.state = 'awaiting_member'
                      THEN COALESCE(a.member_response_due, a.decision_due)
                 ELSE a.decision_due END),
             a.id
    LIMIT $6
)
SELECT page.id, page.report_id, page.state, page.grounds, page.filed_at,
       page.member_response_due, page.decision_due, page.decided_at, page.member_id,
       r.category, r.amount_minor, r.currency, page.queue_closed, page.queue_at
FROM page JOIN reports r ON r.id = page.report_id
ORDER BY page.queue_closed, page.queue_at, page.id;

-- name: member_appeal_queue
-- The appeals on the reports of member $1, for that member. $2 to $7 as
-- in appeal_queue's $1 to $6.
-- The page is chosen from the appeals alone, then joined to its reports.
WITH page AS (
    SELECT a.id, a.report_id, a.state, a.grounds, a.filed_at, a.member_response_due,
           a.decision_due, a.decided_at, a.member_id,
           (a.decided_at IS NOT NULL) AS queue_closed,
           (CASE WHEN a.decided_at IS NOT NULL THEN a.decided_at
                 WHEN a.state = 'awaiting_member'
                      THEN COALESCE(a.member_response_due, a.decision_due)
                 ELSE a.decision_due END) AS queue_at
    FROM appeals a
    WHERE a.member_id = $1::text
      AND ($2::text IS NULL OR a.state = $2::text)
      AND ($3::timestamptz IS NULL
           OR (a.decided_at IS NULL
               AND (CASE WHEN a.decided_at IS NOT NULL THEN a.decided_at
                 WHEN a.state = 'awaiting_member'
                      THEN COALESCE(a.member_response_due, a.decision_due)
                 ELSE a.decision_due END) < $3::timestamptz))
      AND ((a.decided_at IS NOT NULL),
           (CASE WHEN a.decided_at IS NOT NULL THEN a.decided_at
                 WHEN a.state = 'awaiting_member'
                      THEN COALESCE(a.member_response_due, a.decision_due)
                 ELSE a.decision_due END),
           a.id) > ($4::boolean, $5::timestamptz, $6::text)
    ORDER BY (a.decided_at IS NOT NULL),
             (CASE WHEN a.decided_at IS NOT NULL THEN a.decided_at
                 WHEN a.state = 'awaiting_member'
                      THEN COALESCE(a.member_response_due, a.decision_due)
                 ELSE a.decision_due END),
             a.id
    LIMIT $7
)
SELECT page.id, page.report_id, page.state, page.grounds, page.filed_at,
       page.member_response_due, page.decision_due, page.decided_at, page.member_id,
       r.category, r.amount_minor, r.currency, page.queue_closed, page.queue_at
FROM page JOIN reports r ON r.id = page.report_id
ORDER BY page.queue_closed, page.queue_at, page.id;

-- name: member_reports
-- A member's own reports, newest filing first (index reports_member_filed).
-- $2 a status (NULL: any); $3, $4 the (filed_at, id) of the last item of the
-- previous page (the first page passes infinity, ''); $5 the page size.
SELECT id, member_id, case_reference, category, amount_minor, currency, order_date,
       refund_date, confirmed_at, buyer_notified_at, filed_at, evidence_kinds,
       evidence_digest, identifier_kinds, status, status_changed_at, status_reason,
       expires_at, receipt, subject_keys
FROM reports
WHERE member_id = $1
  AND ($2::text IS NULL OR status = $2::text)
  AND (filed_at, id) < ($3::timestamptz, $4::text)
ORDER BY filed_at DESC, id DESC
LIMIT $5;
