-- name: count_keyservice_usage
-- $1 member id, $2 UTC day, $3 evaluations in this request, $4 time of the request.
INSERT INTO keyservice_usage (member_id, day, requests, evaluations, first_at, last_at)
VALUES ($1, $2, 1, $3, $4, $4)
ON CONFLICT (member_id, day) DO UPDATE
SET requests = keyservice_usage.requests + 1,
    evaluations = keyservice_usage.evaluations + EXCLUDED.evaluations,
    last_at = GREATEST(keyservice_usage.last_at, EXCLUDED.last_at)
RETURNING requests, evaluations;

-- name: get_keyservice_usage
SELECT member_id, day, requests, evaluations, first_at, last_at
FROM keyservice_usage
WHERE member_id = $1 AND day = $2;
