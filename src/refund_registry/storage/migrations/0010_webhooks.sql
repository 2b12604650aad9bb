-- Webhooks: members' endpoints, each with its position in the member's event
-- feed, and the log of delivery attempts.
--
-- An endpoint delivers the member's events in feed order: `cursor_txid` and
-- `cursor_id` are the last event it delivered (the feed's `(txid, id)`), and
-- nothing after a failing event goes out until that one is delivered.
-- `attempt` counts the failed attempts at the event after the cursor.
--
-- A worker claims a due endpoint with FOR UPDATE SKIP LOCKED and marks it
-- with a lease (`lease_token` until `lease_until`, longer than a request may
-- take) in a short transaction, delivers outside any transaction, and records
-- the outcome by compare-and-set on the lease: two workers never send the
-- same attempt at once, and no transaction stays open during a request (an
-- open one would hold the feed's and the sequencer's snapshot horizon back).
--
-- Signing secrets are stored sealed (AES-256-GCM under the webhook key file,
-- bound to the endpoint id); the plain secret is shown once, at creation or
-- rotation, and never stored or logged.

CREATE TABLE webhooks (
    id               text PRIMARY KEY,
    member_id        text NOT NULL REFERENCES principals (id),
    url              text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    secret_sealed    bytea NOT NULL CHECK (length(secret_sealed) BETWEEN 12 + 16 + 24 AND 12 + 16 + 64),
    -- The secret a rotation replaced, still used to sign until `previous_until`.
    previous_sealed  bytea,
    previous_until   timestamptz,
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at       timestamptz NOT NULL,
    rotated_at       timestamptz,
    disabled_at      timestamptz,
    disabled_reason  text CHECK (disabled_reason IN ('retries_exhausted', 'gone')),
    cursor_txid      xid8 NOT NULL,
    cursor_id        bigint NOT NULL,
    attempt          integer NOT NULL DEFAULT 0 CHECK (attempt BETWEEN 0 AND 100),
    next_attempt_at  timestamptz NOT NULL,
    lease_token      text,
    lease_until      timestamptz,
    CHECK ((previous_sealed IS NULL) = (previous_until IS NULL)),
    CHECK ((status = 'disabled') = (disabled_at IS NOT NULL)),
    CHECK ((disabled_at IS NULL) = (disabled_reason IS NULL)),
    CHECK ((lease_token IS NULL) = (lease_until IS NULL))
);
CREATE INDEX webhooks_member ON webhooks (member_id, created_at);
-- The delivery worker scans active endpoints by due time.
CREATE INDEX webhooks_due ON webhooks (next_attempt_at) WHERE status = 'active';

CREATE TABLE webhook_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id       text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_cursor     text NOT NULL CHECK (length(event_cursor) BETWEEN 3 AND 64),
    attempt          integer NOT NULL CHECK (attempt >= 1),
    at               timestamptz NOT NULL,
    status_code      integer CHECK (status_code BETWEEN 100 AND 599),
    -- Why there was no answer: timeout, connection, tls, dns, address_refused, …
    error            text CHECK (length(error) BETWEEN 1 AND 64),
    outcome          text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'disabled')),
    next_attempt_at  timestamptz,
    duration_ms      integer NOT NULL CHECK (duration_ms >= 0),
    CHECK ((status_code IS NULL) <> (error IS NULL)),
    CHECK ((outcome = 'retry') = (next_attempt_at IS NOT NULL))
);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);

-- Endpoints are deleted by their member (their log goes with them); log
-- entries are only added, and pruned by age.
GRANT SELECT, INSERT, UPDATE, DELETE ON webhooks TO registry_app;
GRANT SELECT, INSERT, DELETE ON webhook_deliveries TO registry_app;
REVOKE UPDATE, TRUNCATE ON webhook_deliveries FROM registry_app;
