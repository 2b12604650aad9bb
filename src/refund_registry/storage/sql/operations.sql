-- What an operator watches: the state of the access log's tree, open appeals,
-- webhook backlogs. Read at scrape time by storage/operations.py, never on a
-- request's path. Every count that could grow without bound is capped ($1).

-- name: ops_log_state
-- The tree's size, the latest checkpoint, the entries not yet in the tree (capped),
-- the receipt time of the oldest entry not yet in the tree, and of the oldest
-- entry that is in the tree but not yet in a checkpoint (the leaf at index
-- checkpoint size). All reads go through indexes: log_leaves and checkpoints by
-- their primary keys, access_log by (txid, id).
WITH head AS (
    SELECT idx, txid, entry_id FROM log_leaves ORDER BY idx DESC LIMIT 1
), cursor AS (
    SELECT coalesce((SELECT txid FROM head), '0'::xid8) AS txid,
           coalesce((SELECT entry_id FROM head), 0) AS entry_id
), cp AS (
    SELECT size, at FROM checkpoints ORDER BY size DESC LIMIT 1
)
SELECT
    coalesce((SELECT idx + 1 FROM head), 0) AS tree_size,
    (SELECT size FROM cp) AS checkpoint_size,
    (SELECT at FROM cp) AS checkpoint_at,
    (SELECT count(*) FROM (
        SELECT 1 FROM access_log a, cursor c
        WHERE (a.txid, a.id) > (c.txid, c.entry_id)
        LIMIT $1) pending) AS pending,
    (SELECT a.at FROM access_log a, cursor c
     WHERE (a.txid, a.id) > (c.txid, c.entry_id)
     ORDER BY a.txid, a.id LIMIT 1) AS oldest_pending_at,
    (SELECT a.at FROM log_leaves l JOIN access_log a ON a.id = l.entry_id
     WHERE l.idx = coalesce((SELECT size FROM cp), 0)) AS oldest_unpublished_at;

-- name: ops_open_appeals
-- Open appeals per state with the nearest governing deadline (the one the
-- deadline worker acts on: the member's answer while awaiting the member, the
-- decision afterwards).
SELECT state, count(*) AS open,
       min(CASE state WHEN 'awaiting_member' THEN member_response_due
                      ELSE decision_due END) AS nearest_due
FROM appeals
WHERE state IN ('awaiting_member', 'awaiting_adjudication')
GROUP BY state;

-- name: ops_webhook_backlog
-- Endpoints by status; for active ones, the events waiting past each endpoint's
-- position (capped at $1 per endpoint) and the oldest of them.
SELECT
    count(*) FILTER (WHERE w.status = 'active') AS active,
    count(*) FILTER (WHERE w.status = 'disabled') AS disabled,
    count(*) FILTER (WHERE p.waiting > 0) AS behind,
    coalesce(sum(p.waiting), 0)::bigint AS waiting,
    min(p.oldest) AS oldest_at
FROM webhooks w
LEFT JOIN LATERAL (
    SELECT count(*) AS waiting, min(x.at) AS oldest
    FROM (
        SELECT e.at FROM events e
        WHERE w.status = 'active'
          AND e.member_id = w.member_id
          AND (e.txid, e.id) > (w.cursor_txid, w.cursor_id)
        ORDER BY e.txid, e.id
        LIMIT $1) x
) p ON true;
