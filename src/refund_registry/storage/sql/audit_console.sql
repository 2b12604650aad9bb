-- The auditor's console: checkpoint history and the current merge delay.
-- Called by storage/audit_console.py. Every table read here is append-only.

-- name: console_checkpoints
-- Checkpoints newest first, keyset-paged by size (below $1; NULL: from the newest), each
-- with the size of the one before it and the time of the oldest entry it newly covered
-- (the entries with an index in [previous size, size)), which is how long that entry
-- waited to be merged.
SELECT c.size, c.root, c.at,
       coalesce(p.size, 0) AS previous_size,
       (SELECT min(a.at)
          FROM log_leaves l JOIN access_log a ON a.id = l.entry_id
         WHERE l.idx >= coalesce(p.size, 0) AND l.idx < c.size) AS oldest_new_entry
FROM checkpoints c
LEFT JOIN LATERAL (
    SELECT size FROM checkpoints b WHERE b.size < c.size ORDER BY b.size DESC LIMIT 1
) AS p ON true
WHERE $1::bigint IS NULL OR c.size < $1
ORDER BY c.size DESC
LIMIT $2;

-- name: console_oldest_unsequenced
-- The time of the oldest logged entry the sequencer has not given an index yet, read
-- after the last sequenced one's (txid, id) cursor (the access_log_order index).
WITH head AS (SELECT txid, entry_id FROM log_leaves ORDER BY idx DESC LIMIT 1)
SELECT min(a.at) AS at
FROM access_log a
WHERE NOT EXISTS (SELECT 1 FROM head)
   OR (a.txid, a.id) > ((SELECT txid FROM head), (SELECT entry_id FROM head));

-- name: console_oldest_unsigned
-- The time of the oldest sequenced entry at or beyond index $1 (the latest checkpoint's
-- size): sequenced, but in no signed checkpoint yet.
SELECT min(a.at) AS at
FROM log_leaves l JOIN access_log a ON a.id = l.entry_id
WHERE l.idx >= $1;
