-- Daily price aggregates that keep /rates fast: for every pair of places (a port, or a
-- region at any level of the tree) and day, how many prices there were and their sum.
-- A price counts for its own ports and for every region above each. Made from prices,
-- ports and regions by the SQL job `price_stats` (sql/transforms/price_stats.sql).
CREATE TABLE price_stats (
    origin      text   NOT NULL,
    destination text   NOT NULL,
    day         date   NOT NULL,
    prices      bigint NOT NULL CHECK (prices > 0),
    total       bigint NOT NULL,
    PRIMARY KEY (origin, destination, day)
);
