-- The ledger's events: appended in the transaction of the change they record;
-- UPDATE and DELETE are refused by a trigger.

-- name: insert_event
INSERT INTO events (at, type, member_id, report_id, appeal_id, data)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: member_feed
-- Only transactions older than every running one are shown (txid below the
-- snapshot's xmin), ordered by (txid, id): an event that commits late always
-- sorts after every cursor already handed out, so paging never skips it.
SELECT id, txid::text AS txid, at, type, report_id, appeal_id, data
FROM events
WHERE member_id = $1
  AND (txid, id) > ($2::xid8, $3::bigint)
  AND txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY txid, id
LIMIT $4;
