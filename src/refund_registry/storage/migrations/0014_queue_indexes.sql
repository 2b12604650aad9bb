-- Indexes of the keyset-paged listings (storage/sql/queue.sql).
--
-- The appeal work queue is ordered by (closed, deadline of the current step
-- or closing time, id), for everyone (adjudicators) or for one reporting
-- member; a member's reports by (filed_at, id). With these a page is a short
-- range scan after the cursor instead of a sort of every row. The
-- expressions must stay exactly those of queue.sql for the planner to match.

CREATE INDEX appeals_queue ON appeals (
    (decided_at IS NOT NULL),
    (CASE WHEN decided_at IS NOT NULL THEN decided_at
          WHEN state = 'awaiting_member' THEN COALESCE(member_response_due, decision_due)
          ELSE decision_due END),
    id);

CREATE INDEX appeals_member_queue ON appeals (
    member_id,
    (decided_at IS NOT NULL),
    (CASE WHEN decided_at IS NOT NULL THEN decided_at
          WHEN state = 'awaiting_member' THEN COALESCE(member_response_due, decision_due)
          ELSE decision_due END),
    id);

CREATE INDEX reports_member_filed ON reports (member_id, filed_at, id);
