-- route: /charts/top
-- summary: The top N entries of a region's charts on a day, by chart and rank.
-- reads: chart_entries
-- param: region text required | Chart region, e.g. `global` or `us`.
-- param: date date required | Chart day, YYYY-MM-DD.
-- param: chart text | Only this chart (`top200`, `daily`, `weekly`); all charts when absent.
-- param: n int default=10 min=1 max=200 | How many ranks per chart.
-- example: /charts/top?region=global&date=2017-01-01&n=5
SELECT chart, region, date, rank, title, artist, streams, trend, url
FROM chart_entries
WHERE region = $1
  AND date = $2::date
  AND ($3::text IS NULL OR chart = $3)
  AND rank <= $4::int
ORDER BY chart, rank
