-- Brings price_stats up to date with prices, ports and regions when a batch has come into
-- any of them since this job's watermark (the last such batch it has seen); otherwise
-- reads nothing and changes nothing. One statement, so the aggregates and the watermark
-- move together and readers see the old aggregates or the new, never a mix.
--
-- When only prices moved, it follows the changes the triggers on prices kept
-- (price_changes, migration 0015): each lane and day that changed adds its change to every
-- pair of places above it, and an aggregate left with no price goes. When the places moved
-- (a batch into ports or regions), on the first run, or when the aggregates and the changes
-- do not add up to prices' own count and sum (prices written past their triggers), every
-- price is aggregated again.
-- Either way the changes it saw are taken; a load committing meanwhile leaves its own for
-- the next run (one snapshot: its prices and its changes are both unseen).
-- $1: the job name. Returns rows_read (prices aggregated or changed, plus aggregates
-- dropped) and rows_loaded (aggregates written or dropped).
WITH RECURSIVE mark AS (
    SELECT coalesce((SELECT position FROM pgbatch.watermarks WHERE job = $1), 0) AS since
), asked AS (
    SELECT max(b.id) AS id,
           bool_or(b.target <> 'prices') OR min(mark.since) = 0 AS places_moved
    FROM pgbatch.batches AS b, mark
    WHERE b.target IN ('prices', 'ports', 'regions') AND b.id > mark.since
    HAVING count(*) > 0
), taken AS (
    DELETE FROM price_changes AS c
    USING asked
    RETURNING c.orig_code, c.dest_code, c.day, c.prices, c.total
), due AS (
    -- Every price is aggregated again also when the port-to-port aggregates and the changes
    -- taken do not add up to the count and the sum of prices: prices changed without their
    -- triggers (ALTER TABLE ... DISABLE TRIGGER, session_replication_role = replica), and
    -- following the changes would leave the aggregates wrong.
    SELECT a.id,
           a.places_moved OR p.prices <> k.prices + t.prices OR p.total <> k.total + t.total AS everything
    FROM asked AS a,
         (SELECT count(*) AS prices, coalesce(sum(price), 0) AS total FROM prices) AS p,
         (SELECT coalesce(sum(s.prices), 0) AS prices, coalesce(sum(s.total), 0) AS total
          FROM price_stats AS s
          JOIN ports AS o ON o.code = s.origin
          JOIN ports AS d ON d.code = s.destination) AS k,
         (SELECT coalesce(sum(prices), 0) AS prices, coalesce(sum(total), 0) AS total FROM taken) AS t
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
    WHERE due.everything
    GROUP BY p.orig_code, p.dest_code, p.day
    UNION ALL
    SELECT t.orig_code, t.dest_code, t.day, sum(t.prices), sum(t.total)
    FROM taken AS t, due
    WHERE NOT due.everything
    GROUP BY t.orig_code, t.dest_code, t.day
), fresh AS (
    -- every price aggregated again, or the change to each aggregate a change touches
    SELECT o.place AS origin, d.place AS destination, l.day, sum(l.prices)::bigint AS prices, sum(l.total)::bigint AS total
    FROM lanes AS l
    JOIN places AS o ON o.code = l.orig_code
    JOIN places AS d ON d.code = l.dest_code
    GROUP BY o.place, d.place, l.day
), next AS (
    -- each aggregate as it is to be
    SELECT f.origin, f.destination, f.day,
           f.prices + CASE WHEN due.everything THEN 0 ELSE coalesce(s.prices, 0) END AS prices,
           f.total + CASE WHEN due.everything THEN 0 ELSE coalesce(s.total, 0) END AS total
    FROM fresh AS f
    CROSS JOIN due
    LEFT JOIN price_stats AS s
           ON NOT due.everything AND s.origin = f.origin AND s.destination = f.destination AND s.day = f.day
), merged AS (
    INSERT INTO price_stats AS s (origin, destination, day, prices, total)
    SELECT origin, destination, day, prices, total FROM next
    WHERE prices <> 0
    ON CONFLICT (origin, destination, day) DO UPDATE
    SET prices = EXCLUDED.prices, total = EXCLUDED.total
    WHERE (s.prices, s.total) IS DISTINCT FROM (EXCLUDED.prices, EXCLUDED.total)
    RETURNING 1
), gone AS (
    -- aggregated again: those no price makes; followed: those the changes emptied
    DELETE FROM price_stats AS s
    USING due
    WHERE CASE WHEN due.everything
               THEN NOT EXISTS (SELECT FROM fresh AS f
                                WHERE f.origin = s.origin AND f.destination = s.destination AND f.day = s.day)
               ELSE EXISTS (SELECT FROM next AS n
                            WHERE n.prices = 0
                              AND n.origin = s.origin AND n.destination = s.destination AND n.day = s.day)
          END
    RETURNING 1
), moved AS (
    INSERT INTO pgbatch.watermarks (job, position)
    SELECT $1, id FROM due
    ON CONFLICT (job) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
    RETURNING 1
)
SELECT ((SELECT coalesce(sum(abs(prices)), 0) FROM lanes AS l, due WHERE due.everything)
        + (SELECT coalesce(sum(abs(prices)), 0) FROM taken AS t, due WHERE NOT due.everything)
        + (SELECT count(*) FROM gone))::bigint AS rows_read,
       ((SELECT count(*) FROM merged) + (SELECT count(*) FROM gone))::bigint AS rows_loaded,
       (SELECT count(*) FROM moved) AS watermark_moved
