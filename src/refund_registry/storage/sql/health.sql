-- Readiness: the cheapest statement that proves the database answers.

-- name: db_ping
SELECT 1;
