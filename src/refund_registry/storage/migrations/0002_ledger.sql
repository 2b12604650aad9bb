-- The report ledger: current state (reports, their subject keys, per-subject
-- aggregates) and the append-only event log, always changed together.
--
-- Personal data lives only in `report_subjects` and `reports.subject_keys`,
-- both erased when a report expires. Events never carry subject keys, so an
-- event can stay for ever without holding personal data.
--
-- No foreign keys on these tables: every referencing row is written in the
-- same transaction as the row it references, principals and reports are never
-- deleted, and a per-row FK check costs more than the COPY that bulk intake
-- relies on (measured: ~40% of a 10,000-report upload).

CREATE TABLE reports (
    id                  text PRIMARY KEY,
    member_id           text NOT NULL,
    case_reference      text NOT NULL CHECK (length(case_reference) BETWEEN 1 AND 128),
    request_hash        bytea NOT NULL,
    category            text NOT NULL CHECK (category IN (
                            'ai_forged_evidence', 'fabricated_damage_claim',
                            'empty_box_or_switched_return', 'false_not_received_claim',
                            'refund_only_abuse', 'chargeback_fraud', 'other')),
    amount_minor        bigint NOT NULL CHECK (amount_minor > 0),
    currency            char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    order_date          date NOT NULL,
    refund_date         date NOT NULL CHECK (refund_date >= order_date),
    confirmed_at        timestamptz NOT NULL,
    buyer_notified_at   timestamptz NOT NULL,
    filed_at            timestamptz NOT NULL,
    evidence_kinds      text[] NOT NULL,
    evidence_digest     bytea NOT NULL CHECK (length(evidence_digest) = 32),
    identifier_kinds    text[] NOT NULL,
    subject_keys        bytea[] NOT NULL,  -- emptied on expiry
    key_version         smallint NOT NULL,
    status              text NOT NULL DEFAULT 'active' CHECK (status IN (
                            'active', 'disputed', 'retracted', 'overturned', 'expired')),
    status_changed_at   timestamptz NOT NULL,
    status_reason       text,
    expires_at          timestamptz NOT NULL,
    receipt             jsonb,
    UNIQUE (member_id, case_reference)
);
CREATE INDEX reports_expiring ON reports (expires_at) WHERE subject_keys <> '{}';

-- One row per (subject key, report): how a buyer's identifiers find reports.
CREATE TABLE report_subjects (
    subject_key  bytea NOT NULL CHECK (length(subject_key) = 32),
    report_id    text NOT NULL,
    kind         text NOT NULL,
    PRIMARY KEY (subject_key, report_id)
);
CREATE INDEX report_subjects_report ON report_subjects (report_id);

-- What the risk query needs about one subject key, in one row. `facts` holds
-- the scorer's inputs for every counting (active or disputed) report.
CREATE TABLE subject_aggregates (
    subject_key          bytea PRIMARY KEY CHECK (length(subject_key) = 32),
    kind                 text NOT NULL,
    active_reports       integer NOT NULL DEFAULT 0,
    disputed             integer NOT NULL DEFAULT 0,
    platforms            integer NOT NULL DEFAULT 0,
    latest_confirmed_at  timestamptz,
    facts                jsonb NOT NULL DEFAULT '[]',
    statement            text CHECK (length(statement) <= 200),
    version              bigint NOT NULL DEFAULT 0,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- The ledger. `txid` orders the member feed safely: a reader only sees
-- transactions older than every transaction still running, so a cursor never
-- skips an event that commits late.
CREATE TABLE events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at          timestamptz NOT NULL,
    type        text NOT NULL,
    member_id   text,  -- whose feed shows it (NULL: nobody's)
    report_id   text,
    appeal_id   text,
    data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_feed ON events (member_id, txid, id);
CREATE INDEX events_report ON events (report_id);

REVOKE UPDATE, DELETE, TRUNCATE ON events FROM registry_app;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Bulk intake loads here with COPY, then merges with set-based SQL.
CREATE UNLOGGED TABLE report_staging (
    batch_id         text NOT NULL,
    idx              integer NOT NULL,
    id               text NOT NULL,
    case_reference   text NOT NULL,
    request_hash     bytea NOT NULL,
    category         text NOT NULL,
    amount_minor     bigint NOT NULL,
    currency         text NOT NULL,
    order_date       date NOT NULL,
    refund_date      date NOT NULL,
    confirmed_at     timestamptz NOT NULL,
    buyer_notified_at timestamptz NOT NULL,
    evidence_kinds   text[] NOT NULL,
    evidence_digest  bytea NOT NULL,
    identifier_kinds text[] NOT NULL,
    subject_keys     bytea[] NOT NULL,
    expires_at       timestamptz NOT NULL,
    PRIMARY KEY (batch_id, idx)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON reports, report_subjects, subject_aggregates,
    report_staging TO registry_app;
GRANT SELECT, INSERT ON events TO registry_app;
