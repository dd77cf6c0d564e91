-- route: /rankings
-- summary: The top tracks of a region's chart on a day, as the charts service served them (an empty list when there is no chart for that region and day). Of several charts that day, the first of top200, daily, weekly.
-- reads: chart_entries
-- param: region text required | Chart region as charted, e.g. `global` or `Argentina`.
-- param: date date required | Chart day, YYYY-MM-DD.
-- param: limit int default=10 min=1 max=200 | How many tracks.
-- example: /rankings?region=global&date=2017-01-01&limit=5
WITH chart AS (
    SELECT chart
    FROM chart_entries
    WHERE region = $1 AND date = $2::date
    GROUP BY chart
    ORDER BY array_position(ARRAY['top200', 'daily', 'weekly'], chart), chart
    LIMIT 1
)
SELECT e.title AS track_title, e.artist, e.region, e.streams AS track_streams, e.rank AS rank_by_region
FROM chart_entries AS e
JOIN chart USING (chart)
WHERE e.region = $1 AND e.date = $2::date
ORDER BY e.rank
LIMIT $3::int
