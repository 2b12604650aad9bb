-- Appeals: a buyer contests one report.
--
-- The state machine itself is pure (domain/appeals.py); this table stores its
-- state and is changed only by compare-and-set (UPDATE ... WHERE id = $1 AND
-- state = $2). The CHECK constraints repeat the rules the database can see on
-- one row, so a bug in the service cannot store an appeal that the domain
-- could never have produced.
--
-- Personal data: `subject_keys` (the filer's subject keys that matched the
-- report) and the free texts. Events never copy them, so the ledger can keep
-- an appeal's history for ever while these columns remain erasable.

CREATE TABLE appeals (
    id                   text PRIMARY KEY,
    report_id            text NOT NULL,
    -- The reporting member, copied from the report: the party that answers,
    -- and whose feed receives the appeal's events.
    member_id            text NOT NULL,
    -- The member that issued the buyer's subject token when the appeal was filed.
    filed_via            text NOT NULL,
    subject_keys         bytea[] NOT NULL,
    grounds              text NOT NULL CHECK (grounds IN (
                             'not_me', 'goods_really_defective', 'already_resolved', 'other')),
    statement            text NOT NULL CHECK (length(statement) BETWEEN 1 AND 2000),
    state                text NOT NULL DEFAULT 'awaiting_member' CHECK (state IN (
                             'awaiting_member', 'awaiting_adjudication',
                             'upheld', 'overturned', 'withdrawn')),
    member_summary       text CHECK (length(member_summary) BETWEEN 1 AND 2000),
    decision_rationale   text CHECK (length(decision_rationale) BETWEEN 1 AND 2000),
    -- How the appeal ended, when it ended in something other than a party's
    -- action (e.g. 'report_retracted'); NULL otherwise.
    closed_reason        text,
    filed_at             timestamptz NOT NULL,
    member_response_due  timestamptz NOT NULL,
    decision_due         timestamptz NOT NULL,
    answered_at          timestamptz,
    decided_at           timestamptz,
    version              integer NOT NULL DEFAULT 0,
    CHECK (filed_at < member_response_due AND member_response_due < decision_due),
    -- An appeal is closed exactly when it has a closing time.
    CHECK ((state IN ('awaiting_member', 'awaiting_adjudication')) = (decided_at IS NULL)),
    -- Only a member's uphold moves an appeal on to adjudication, and it needs a summary.
    CHECK (state <> 'awaiting_adjudication' OR member_summary IS NOT NULL)
);

-- One open appeal per report: the last line of defence behind the report row
-- lock and the report's `disputed` status.
CREATE UNIQUE INDEX appeals_one_open_per_report ON appeals (report_id)
    WHERE state IN ('awaiting_member', 'awaiting_adjudication');
CREATE INDEX appeals_report ON appeals (report_id);
-- The deadline worker scans open appeals only; they are few (at most the last
-- 20 days of filings), so one partial index serves both deadlines.
CREATE INDEX appeals_open ON appeals (member_response_due)
    WHERE state IN ('awaiting_member', 'awaiting_adjudication');
CREATE INDEX appeals_subjects ON appeals USING gin (subject_keys);

-- An appeal's history is read from the ledger by appeal id.
CREATE INDEX events_appeal ON events (appeal_id) WHERE appeal_id IS NOT NULL;

-- No DELETE: an appeal is part of the record; erasure empties its columns.
GRANT SELECT, INSERT, UPDATE ON appeals TO registry_app;
REVOKE DELETE, TRUNCATE ON appeals FROM registry_app;
