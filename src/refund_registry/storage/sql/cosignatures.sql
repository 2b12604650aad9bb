-- name: cosig_insert
-- A witness cosigns a checkpoint once; a second answer for the same one is kept out.
INSERT INTO checkpoint_cosignatures (size, witness, line, cosigned_at, received_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (size, witness) DO NOTHING;

-- name: cosig_witness_sizes
-- The largest checkpoint each witness has cosigned: where its next proof starts.
SELECT witness, max(size) AS size
FROM checkpoint_cosignatures
WHERE witness = ANY($1::text[])
GROUP BY witness;

-- name: cosig_latest_witnessed
-- The largest checkpoint with at least $2 cosignatures by the witnesses named in $1.
SELECT c.size, c.note, c.at
FROM checkpoints c
JOIN checkpoint_cosignatures s ON s.size = c.size AND s.witness = ANY($1::text[])
GROUP BY c.size, c.note, c.at
HAVING count(*) >= $2
ORDER BY c.size DESC
LIMIT 1;

-- name: cosig_lines
-- The stored cosignature lines of one checkpoint, by the witnesses named in $2.
SELECT witness, line, cosigned_at
FROM checkpoint_cosignatures
WHERE size = $1 AND witness = ANY($2::text[])
ORDER BY witness;

-- name: cosig_witness_progress
-- Per witness: the largest checkpoint it cosigned, and when it last cosigned one
-- (its own time in the line) and when the registry received that line.
SELECT witness, max(size) AS size, max(cosigned_at) AS cosigned_at,
       max(received_at) AS received_at
FROM checkpoint_cosignatures
WHERE witness = ANY($1::text[])
GROUP BY witness;
