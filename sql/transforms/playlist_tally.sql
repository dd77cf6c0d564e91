-- Tallies the song requests that arrived since this job's watermark into the playlist:
-- each request adds the listeners tuned in when it came. One statement, so the tally and
-- the watermark move together. $1: the job name. Returns rows_read, rows_loaded.
WITH mark AS (
    SELECT coalesce((SELECT position FROM pgbatch.watermarks WHERE job = $1), 0) AS since
), fresh AS (
    SELECT r.id, r.artist, r.title, r.listeners, r.requested_at
    FROM song_requests AS r, mark
    WHERE r.id > mark.since
), tally AS (
    SELECT artist, title, sum(listeners) AS score, count(*) AS requests, max(requested_at) AS last_requested_at
    FROM fresh
    GROUP BY artist, title
), merged AS (
    INSERT INTO playlist AS p (artist, title, score, requests, last_requested_at)
    SELECT artist, title, score, requests, last_requested_at FROM tally
    ON CONFLICT (artist, title) DO UPDATE
    SET score = p.score + EXCLUDED.score,
        requests = p.requests + EXCLUDED.requests,
        last_requested_at = greatest(p.last_requested_at, EXCLUDED.last_requested_at)
    RETURNING 1
), moved AS (
    INSERT INTO pgbatch.watermarks (job, position)
    SELECT $1, max(id) FROM fresh HAVING count(*) > 0
    ON CONFLICT (job) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
    RETURNING 1
)
SELECT (SELECT count(*) FROM fresh) AS rows_read,
       (SELECT count(*) FROM merged) AS rows_loaded,
       (SELECT count(*) FROM moved) AS watermark_moved
