-- name: tile_entries
-- The exact entry bytes of tree indices [$1, $2), in index order (entry bundles).
SELECT a.entry
FROM log_leaves l JOIN access_log a ON a.id = l.entry_id
WHERE l.idx >= $1 AND l.idx < $2
ORDER BY l.idx;
