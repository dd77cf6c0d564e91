-- route: /charts/artist
-- summary: An artist's chart entries, oldest first, a page at a time; pass the last entry's `cursor` as `after` for the next page.
-- reads: chart_entries
-- param: artist text required | The artist, exactly as charted.
-- param: after text pattern=^\d{4}-\d{2}-\d{2}\|[^|]+\|[^|]+\|\d+$ | The `cursor` of the last entry of the previous page.
-- param: limit int default=100 min=1 max=1000 | Entries per page.
-- example: /charts/artist?artist=Ed%20Sheeran&limit=5
SELECT chart, region, date, rank, title, artist, streams, trend, url,
       concat_ws('|', date, chart, region, rank) AS cursor
FROM chart_entries
WHERE artist = $1
  AND ($2::text IS NULL
       OR (date, chart, region, rank) > (split_part($2, '|', 1)::date, split_part($2, '|', 2),
                                         split_part($2, '|', 3), split_part($2, '|', 4)::int))
ORDER BY date, chart, region, rank
LIMIT $3::int
