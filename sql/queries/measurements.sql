-- route: /measurements
-- summary: Measurements of one parameter at one station over a time range, oldest first (`?format=csv` gives the CSV of the original service).
-- reads: measurements
-- param: station text required | The station, e.g. `Dongsi` or `uci_italy`.
-- param: parameter text required | The parameter, e.g. `pm25`, `no2`, `temperature`.
-- param: from timestamptz required | Start of the range (inclusive), RFC 3339 or YYYY-MM-DD (UTC).
-- param: to timestamptz required | End of the range (exclusive), RFC 3339 or YYYY-MM-DD (UTC).
-- range: from to max_days=3660
-- exists: checks/station.sql station
-- example: /measurements?station=Dongsi&parameter=pm25&from=2013-03-01&to=2013-03-02&format=csv
SELECT time, station, parameter, value, unit, latitude, longitude
FROM measurements
WHERE station = $1
  AND parameter = $2
  AND time >= $3::timestamptz
  AND time < $4::timestamptz
ORDER BY time
