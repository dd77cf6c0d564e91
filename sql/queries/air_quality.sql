-- route: /air_quality
-- summary: Measurements as the measurement service served them: CSV of station, parameter, time, value and unit, filtered by station, parameter and time range (all optional), streamed.
-- reads: measurements
-- param: station text | Only this station, e.g. `Dongsi`.
-- param: parameter text | Only this parameter, e.g. `pm25`.
-- param: from timestamptz | At or after, RFC 3339 or YYYY-MM-DD (UTC).
-- param: to timestamptz | Before, RFC 3339 or YYYY-MM-DD (UTC).
-- range: from to
-- format: csv
-- max_rows: none
-- example: /air_quality?station=Dongsi&parameter=pm25&from=2013-03-01&to=2013-03-02
SELECT station, parameter, time, value, unit
FROM measurements
WHERE ($1::text IS NULL OR station = $1)
  AND ($2::text IS NULL OR parameter = $2)
  AND ($3::timestamptz IS NULL OR time >= $3)
  AND ($4::timestamptz IS NULL OR time < $4)
ORDER BY station, parameter, time
