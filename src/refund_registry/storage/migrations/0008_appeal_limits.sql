-- Appeal limits: appealing a report again, and who acted for the buyer.
--
-- After an adjudicator upheld a report, a new appeal on it needs the grounds
-- 'new_evidence' and starts at adjudication: the member already answered, so
-- such an appeal has no member deadline (member_response_due is NULL exactly
-- for it) and carries the member summary of the decided appeal.
--
-- Who acted: a buyer acts either directly (signed in by a one-time code) or
-- through a member platform (a subject token or hand-off that member issued).
-- `filed_via` and `withdrawn_via` name that member; NULL in `filed_via` means
-- the buyer filed directly, and NULL in `withdrawn_via` of a withdrawn appeal
-- means the buyer withdrew directly.

ALTER TABLE appeals DROP CONSTRAINT appeals_grounds_check;
ALTER TABLE appeals ADD CONSTRAINT appeals_grounds_check CHECK (grounds IN (
    'not_me', 'goods_really_defective', 'already_resolved', 'other', 'new_evidence'));

ALTER TABLE appeals ALTER COLUMN member_response_due DROP NOT NULL;
ALTER TABLE appeals DROP CONSTRAINT appeals_check;
ALTER TABLE appeals ADD CONSTRAINT appeals_deadlines_check CHECK (
    filed_at < decision_due
    AND (member_response_due IS NULL
         OR (filed_at < member_response_due AND member_response_due < decision_due)));
-- Only an appeal on new evidence skips the member's answer, and it always does.
ALTER TABLE appeals ADD CONSTRAINT appeals_new_evidence_check CHECK (
    (grounds = 'new_evidence') = (member_response_due IS NULL));

ALTER TABLE appeals ALTER COLUMN filed_via DROP NOT NULL;
ALTER TABLE appeals ADD COLUMN withdrawn_via text;
ALTER TABLE appeals ADD CONSTRAINT appeals_withdrawn_via_check CHECK (
    withdrawn_via IS NULL OR state = 'withdrawn');

-- Until now every buyer acted through a member-issued subject token; the
-- access log names the member behind each withdrawal.
UPDATE appeals a SET withdrawn_via = l.actor
FROM access_log l
WHERE a.state = 'withdrawn'
  AND l.action = 'appeal.withdraw'
  AND l.outcome = 'withdrawn'
  AND convert_from(l.entry, 'UTF8')::jsonb #>> '{detail,appeal_id}' = a.id;
