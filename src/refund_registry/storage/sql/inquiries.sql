-- Looks at a buyer's record as the access log records them, read per subject.

-- name: subject_inquiries
-- Every member's look at any of these subject keys since $2, newest first, one
-- row per look even when it named several of them: risk queries, and reads of the
-- buyer's record in sessions the member handed over. The buyer's own reads after
-- a direct sign-in (actor 'buyer') are not inquiries and are left out.
SELECT l.at, l.purpose, p.name AS member_name,
       CASE WHEN l.action = 'risk.query' THEN 'query' ELSE 'via_member' END AS how
FROM access_log l LEFT JOIN principals p ON p.id = l.actor
WHERE (l.action = 'risk.query' OR (l.action = 'subject.access' AND l.actor <> 'buyer'))
  AND l.leaf_hash IN (SELECT s.leaf_hash FROM access_subjects s
                      WHERE s.subject_key = ANY($1::bytea[]) AND s.at >= $2)
ORDER BY l.at DESC, l.id DESC;

-- name: queriers_of_subjects
-- Members whose risk queries named any of these subject keys in ($2, $3],
-- each with its own query ids: who must hear that a report was overturned.
SELECT l.actor AS member_id,
       array_agg(DISTINCT l.query_id ORDER BY l.query_id) AS query_ids,
       max(l.at) AS last_queried_at
FROM access_log l
WHERE l.action = 'risk.query'
  AND l.query_id IS NOT NULL
  AND l.leaf_hash IN (SELECT s.leaf_hash FROM access_subjects s
                      WHERE s.subject_key = ANY($1::bytea[]) AND s.at > $2 AND s.at <= $3)
GROUP BY l.actor
ORDER BY l.actor;
