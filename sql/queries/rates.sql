-- route: /rates
-- summary: Average price per day between two ports or regions (a region includes all its sub-regions); null on days with fewer than 3 prices.
-- reads: price_stats ports regions
-- param: date_from date required | First day, YYYY-MM-DD.
-- param: date_to date required | Last day (inclusive), YYYY-MM-DD.
-- param: origin text required | A 5-character port code or a region slug.
-- param: destination text required | A 5-character port code or a region slug.
-- range: date_from date_to max_days=1096
-- exists: checks/place.sql origin
-- exists: checks/place.sql destination
-- example: /rates?date_from=2016-01-01&date_to=2016-01-10&origin=CNSGH&destination=north_europe_main
-- The daily aggregates of every pair of places (sql/transforms/price_stats.sql): one index
-- range of at most one row per day, whatever the regions' size.
SELECT d.day::date AS day,
       CASE WHEN s.prices >= 3 THEN round(s.total::numeric / s.prices)::bigint END AS average_price
FROM generate_series($1::date, $2::date, interval '1 day') AS d (day)
LEFT JOIN price_stats AS s ON s.origin = $3 AND s.destination = $4 AND s.day = d.day::date
-- No rows for a place that does not exist, so that the exists: checks (run only when a
-- query returns no rows) answer 404 naming it.
WHERE EXISTS (SELECT FROM ports WHERE code = $3::text UNION ALL SELECT FROM regions WHERE slug = $3::text)
  AND EXISTS (SELECT FROM ports WHERE code = $4::text UNION ALL SELECT FROM regions WHERE slug = $4::text)
ORDER BY d.day
