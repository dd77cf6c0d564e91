-- route: /rates/any_count
-- summary: Average price per day between two ports or regions, whatever the number of prices that day (null only on days with none).
-- reads: prices ports regions
-- param: date_from date required | First day, YYYY-MM-DD.
-- param: date_to date required | Last day (inclusive), YYYY-MM-DD.
-- param: origin text required | A 5-character port code or a region slug.
-- param: destination text required | A 5-character port code or a region slug.
-- exists: checks/place.sql origin
-- exists: checks/place.sql destination
-- example: /rates/any_count?date_from=2016-01-01&date_to=2016-01-10&origin=CNSGH&destination=north_europe_main
WITH RECURSIVE
    origin_regions (slug) AS (
        SELECT $3::text
        UNION
        SELECT r.slug FROM regions r JOIN origin_regions o ON r.parent_slug = o.slug
    ),
    destination_regions (slug) AS (
        SELECT $4::text
        UNION
        SELECT r.slug FROM regions r JOIN destination_regions d ON r.parent_slug = d.slug
    ),
    origin_ports AS (
        SELECT code FROM ports WHERE code = $3 OR parent_slug IN (SELECT slug FROM origin_regions)
    ),
    destination_ports AS (
        SELECT code FROM ports WHERE code = $4 OR parent_slug IN (SELECT slug FROM destination_regions)
    ),
    daily AS (
        SELECT p.day, count(*) AS prices, round(avg(p.price))::bigint AS average_price
        FROM prices p
        WHERE p.orig_code IN (SELECT code FROM origin_ports)
          AND p.dest_code IN (SELECT code FROM destination_ports)
          AND p.day BETWEEN $1::date AND $2::date
        GROUP BY p.day
    )
SELECT d.day::date AS day,
       daily.average_price
FROM generate_series($1::date, $2::date, interval '1 day') AS d (day)
LEFT JOIN daily ON daily.day = d.day::date
ORDER BY d.day
