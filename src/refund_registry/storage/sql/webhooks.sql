-- Webhook endpoints, their position in the member's feed, and the delivery
-- log (storage/webhooks.py). Secrets are stored sealed, never in the clear.

-- name: webhook_lock_member
-- Serialises a member's registrations, so the endpoint limit holds under races.
SELECT pg_advisory_xact_lock(hashtextextended('refund_registry.webhooks:' || $1::text, 0));

-- name: webhook_count
SELECT count(*) FROM webhooks WHERE member_id = $1;

-- name: webhook_feed_end
-- The member's last event that every reader can already see (the feed's rule:
-- transactions older than every running one); NULL row: no event yet.
SELECT txid::text AS txid, id
FROM events
WHERE member_id = $1
  AND txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY txid DESC, id DESC
LIMIT 1;

-- name: webhook_insert
INSERT INTO webhooks (id, member_id, url, secret_sealed, created_at, cursor_txid, cursor_id,
                      next_attempt_at)
VALUES ($1, $2, $3, $4, $5, $6::xid8, $7, $5);

-- name: webhook_list
SELECT id, url, status, created_at, rotated_at, previous_until, disabled_at, disabled_reason,
       cursor_txid::text AS cursor_txid, cursor_id, attempt, next_attempt_at
FROM webhooks
WHERE member_id = $1
ORDER BY created_at, id;

-- name: webhook_get
SELECT id, url, status, created_at, rotated_at, previous_until, disabled_at, disabled_reason,
       cursor_txid::text AS cursor_txid, cursor_id, attempt, next_attempt_at
FROM webhooks
WHERE id = $1 AND member_id = $2;

-- name: webhook_delete
DELETE FROM webhooks WHERE id = $1 AND member_id = $2 RETURNING id;

-- name: webhook_rotate
-- The current secret becomes the previous one, signing alongside the new one
-- until $5.
UPDATE webhooks
SET previous_sealed = secret_sealed, previous_until = $5, secret_sealed = $3, rotated_at = $4
WHERE id = $1 AND member_id = $2
RETURNING id;

-- name: webhook_enable
-- A disabled endpoint resumes with the event it failed on, at once.
UPDATE webhooks
SET status = 'active', disabled_at = NULL, disabled_reason = NULL, attempt = 0,
    next_attempt_at = $3
WHERE id = $1 AND member_id = $2 AND status = 'disabled'
RETURNING id;

-- name: webhook_claim_due
-- Active endpoints due for an attempt, with an event waiting and no live
-- lease, claimed by this worker until $3 under lease $4. SKIP LOCKED: a row
-- another worker is claiming right now is left to it.
WITH due AS (
    SELECT w.id
    FROM webhooks w
    WHERE w.status = 'active'
      AND w.next_attempt_at <= $1
      AND (w.lease_until IS NULL OR w.lease_until <= $1)
      AND EXISTS (
          SELECT 1 FROM events e
          WHERE e.member_id = w.member_id
            AND (e.txid, e.id) > (w.cursor_txid, w.cursor_id)
            AND e.txid < pg_snapshot_xmin(pg_current_snapshot()))
    ORDER BY w.next_attempt_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE webhooks w
SET lease_token = $4, lease_until = $3
FROM due
WHERE w.id = due.id
RETURNING w.id, w.member_id, w.url, w.secret_sealed, w.previous_sealed, w.previous_until,
          w.cursor_txid::text AS cursor_txid, w.cursor_id, w.attempt;

-- name: webhook_pending_events
-- The member's events after an endpoint's position, oldest first; the feed's
-- rule (only transactions older than every running one) keeps the order
-- stable: an event committing late sorts after every event already sent.
SELECT id, txid::text AS txid, at, type, report_id, appeal_id, data
FROM events
WHERE member_id = $1
  AND (txid, id) > ($2::xid8, $3::bigint)
  AND txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY txid, id
LIMIT $4;

-- name: webhook_secrets
-- The signing secrets as they stand now (a rotation may have come meanwhile).
SELECT secret_sealed, previous_sealed, previous_until
FROM webhooks
WHERE id = $1 AND lease_token = $2;

-- name: webhook_delivered
-- Compare-and-set on the lease: the endpoint moves past the delivered event,
-- and the lease is renewed for the next one.
UPDATE webhooks
SET cursor_txid = $3::xid8, cursor_id = $4, attempt = 0, next_attempt_at = $5,
    lease_until = $6
WHERE id = $1 AND lease_token = $2 AND status = 'active'
RETURNING id;

-- name: webhook_retry_later
-- Compare-and-set on the lease: attempt $3 failed; the next is due at $4.
UPDATE webhooks
SET attempt = $3, next_attempt_at = $4, lease_token = NULL, lease_until = NULL
WHERE id = $1 AND lease_token = $2 AND status = 'active'
RETURNING id;

-- name: webhook_disable
-- Compare-and-set on the lease: the endpoint stops, keeping its position.
UPDATE webhooks
SET status = 'disabled', attempt = $3, disabled_at = $4, disabled_reason = $5,
    lease_token = NULL, lease_until = NULL
WHERE id = $1 AND lease_token = $2 AND status = 'active'
RETURNING id;

-- name: webhook_release
UPDATE webhooks SET lease_token = NULL, lease_until = NULL
WHERE id = $1 AND lease_token = $2;

-- name: webhook_log_insert
INSERT INTO webhook_deliveries (webhook_id, event_cursor, attempt, at, status_code, error,
                                outcome, next_attempt_at, duration_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: webhook_log_page
SELECT id, event_cursor, attempt, at, status_code, error, outcome, next_attempt_at, duration_ms
FROM webhook_deliveries
WHERE webhook_id = $1 AND id > $2
ORDER BY id
LIMIT $3;

-- name: webhook_log_prune
DELETE FROM webhook_deliveries WHERE at < $1;
