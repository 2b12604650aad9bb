-- The access log's Merkle tree: sequencing, checkpoints, proofs and the auditor views.
-- Called by storage/tree.py (seq_*, nodes, checkpoints, leaves) and storage/accesslog.py
-- (entries, summary counts, retention). Every table touched here is append-only except
-- access_subjects, whose salts retention deletes (audit_expire_subject_links).

-- name: seq_try_xact_lock
-- The sequencer lock for one transaction. A process that holds it for its session
-- (seq_try_session_lock) gets it again at once: advisory locks are re-entrant per session.
SELECT pg_try_advisory_xact_lock($1::bigint);

-- name: seq_try_session_lock
-- Held by the active sequencer for as long as it runs; PostgreSQL frees it when that
-- session ends, however it ends, which is what lets a standby take over.
SELECT pg_try_advisory_lock($1::bigint);

-- name: seq_unlock
SELECT pg_advisory_unlock($1::bigint);

-- name: seq_head
-- The last sequenced leaf: the tree has idx + 1 leaves, and (txid, entry_id) is the
-- cursor after which the next entries to sequence come.
SELECT idx, txid, entry_id FROM log_leaves ORDER BY idx DESC LIMIT 1;

-- name: seq_pending
-- Entries not yet sequenced, oldest transaction first. Only transactions older than
-- every one still running are read (txid below the snapshot's xmin): an entry whose
-- transaction commits late always sorts after the cursor, so it is never skipped.
SELECT id, txid, entry, leaf_hash FROM access_log
WHERE (txid, id) > ($1::xid8, $2::bigint)
  AND txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY txid, id
LIMIT $3;

-- name: seq_insert_checkpoint
INSERT INTO checkpoints (size, root, note, at) VALUES ($1, $2, $3, $4)
ON CONFLICT (size) DO NOTHING;

-- name: audit_nodes
-- Complete subtrees by (level, index), leaves (level 0) included: log_nodes alone is
-- the whole tree, so proofs never depend on the tables that map indices to entries.
SELECT n.level, n.idx, n.hash
FROM log_nodes n
JOIN unnest($1::smallint[], $2::bigint[]) AS wanted(level, idx)
  ON n.level = wanted.level AND n.idx = wanted.idx;

-- name: audit_latest_checkpoint
SELECT size, root, note, at FROM checkpoints ORDER BY size DESC LIMIT 1;

-- name: audit_leaf_index
-- NULL idx: the entry is logged but not sequenced yet; no row: never logged.
SELECT l.idx
FROM access_log a LEFT JOIN log_leaves l ON l.entry_id = a.id
WHERE a.leaf_hash = $1;

-- name: audit_entries
-- Sequenced entries after an index, in index order, with optional filters (NULL: any).
-- The subject filter goes through access_subjects, which holds the salts: once
-- retention has deleted an entry's salts, the subject filter no longer finds it.
SELECT l.idx, a.entry, l.leaf_hash
FROM log_leaves l
JOIN access_log a ON a.id = l.entry_id
WHERE l.idx > $1
  AND ($2::text IS NULL OR a.actor = $2)
  AND ($3::text IS NULL OR a.action = $3)
  AND ($4::text IS NULL OR a.purpose = $4)
  AND ($5::timestamptz IS NULL OR a.at >= $5)
  AND ($6::timestamptz IS NULL OR a.at < $6)
  AND ($7::bytea IS NULL OR EXISTS (
        SELECT 1 FROM access_subjects s
        WHERE s.subject_key = $7 AND s.leaf_hash = a.leaf_hash))
ORDER BY l.idx
LIMIT $8;

-- name: audit_query_counts
-- Looks per member and purpose in [$1, $2): its risk queries, and the reads of buyers'
-- records in sessions it handed over (purpose 'subject_access'), which count like
-- queries. A buyer's own reads (actor 'buyer') are no member's.
SELECT actor,
       CASE WHEN action = 'subject.access' THEN 'subject_access' ELSE purpose END AS purpose,
       count(*) AS queries
FROM access_log
WHERE at >= $1 AND at < $2
  AND (action = 'risk.query' OR (action = 'subject.access' AND actor <> 'buyer'))
GROUP BY 1, 2;

-- name: audit_query_totals
-- Looks per member in [$1, $2), counted as in audit_query_counts: the trailing baseline.
SELECT actor, count(*) AS queries
FROM access_log
WHERE at >= $1 AND at < $2
  AND (action = 'risk.query' OR (action = 'subject.access' AND actor <> 'buyer'))
GROUP BY actor;

-- name: audit_subject_spread
-- Per member in [$1, $2): how many distinct subjects its looks (risk queries and
-- hand-off reads) named, and how many of those it named only once. access_subjects.at
-- equals its entry's time, so the time range can use that table's index before joining.
SELECT actor,
       count(*) AS distinct_subjects,
       count(*) FILTER (WHERE times = 1) AS one_off_subjects
FROM (
    SELECT a.actor, s.subject_key, count(*) AS times
    FROM access_subjects s
    JOIN access_log a ON a.leaf_hash = s.leaf_hash
    WHERE s.at >= $1 AND s.at < $2
      AND (a.action = 'risk.query' OR (a.action = 'subject.access' AND a.actor <> 'buyer'))
    GROUP BY a.actor, s.subject_key
) AS per_subject
GROUP BY actor;

-- name: audit_expire_subject_links
-- Retention: forget which buyers old entries were about. The entries and every hash
-- stay; only the salts and the subject keys beside them go. In batches, so that a
-- first run over a large backlog does not hold one huge transaction.
DELETE FROM access_subjects s
USING (
    SELECT subject_key, leaf_hash FROM access_subjects
    WHERE at < $1
    ORDER BY at
    LIMIT $2
) AS doomed
WHERE s.subject_key = doomed.subject_key AND s.leaf_hash = doomed.leaf_hash;
