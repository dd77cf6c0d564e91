-- Brings price_stats up to date with prices, ports and regions when a batch has come into
-- any of them since this job's watermark (the last such batch it has seen); otherwise
-- reads nothing and changes nothing. One statement, so the aggregates and the watermark
-- move together and readers see the old aggregates or the new, never a mix.
-- $1: the job name. Returns rows_read (prices aggregated, plus aggregates dropped) and
-- rows_loaded (aggregates written or dropped).
WITH RECURSIVE mark AS (
    SELECT coalesce((SELECT position FROM pgbatch.watermarks WHERE job = $1), 0) AS since
), due AS (
    SELECT b.id
    FROM (SELECT max(id) AS id FROM pgbatch.batches WHERE target IN ('prices', 'ports', 'regions')) AS b, mark
    WHERE b.id > mark.since
), places (code, place) AS (
    -- every port with itself and with each region above it, at any depth
    SELECT code, place
    FROM (SELECT code, code AS place FROM ports UNION ALL SELECT code, parent_slug FROM ports) AS seed
    UNION ALL
    SELECT places.code, r.parent_slug
    FROM places JOIN regions AS r ON r.slug = places.place
    WHERE r.parent_slug IS NOT NULL
), lanes AS (
    SELECT p.orig_code, p.dest_code, p.day, count(*) AS prices, sum(p.price) AS total
    FROM prices AS p, due
    GROUP BY p.orig_code, p.dest_code, p.day
), fresh AS (
    SELECT o.place AS origin, d.place AS destination, l.day, sum(l.prices)::bigint AS prices, sum(l.total)::bigint AS total
    FROM lanes AS l
    JOIN places AS o ON o.code = l.orig_code
    JOIN places AS d ON d.code = l.dest_code
    GROUP BY o.place, d.place, l.day
), merged AS (
    INSERT INTO price_stats AS s (origin, destination, day, prices, total)
    SELECT origin, destination, day, prices, total FROM fresh
    ON CONFLICT (origin, destination, day) DO UPDATE
    SET prices = EXCLUDED.prices, total = EXCLUDED.total
    WHERE (s.prices, s.total) IS DISTINCT FROM (EXCLUDED.prices, EXCLUDED.total)
    RETURNING 1
), gone AS (
    DELETE FROM price_stats AS s
    USING due
    WHERE NOT EXISTS (SELECT FROM fresh AS f
                      WHERE f.origin = s.origin AND f.destination = s.destination AND f.day = s.day)
    RETURNING 1
), moved AS (
    INSERT INTO pgbatch.watermarks (job, position)
    SELECT $1, id FROM due
    ON CONFLICT (job) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
    RETURNING 1
)
SELECT ((SELECT coalesce(sum(prices), 0) FROM lanes) + (SELECT count(*) FROM gone))::bigint AS rows_read,
       ((SELECT count(*) FROM merged) + (SELECT count(*) FROM gone))::bigint AS rows_loaded,
       (SELECT count(*) FROM moved) AS watermark_moved
