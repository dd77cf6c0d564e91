-- A region's charts on a day (/rankings, /charts/top): the primary key leads with the chart,
-- so without this index those routes read the whole table.
CREATE INDEX chart_entries_region_date_idx ON chart_entries (region, date, chart, rank);
