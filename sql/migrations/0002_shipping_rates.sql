-- Shipping rates (xeneta/ratestask): a region hierarchy, ports in regions, and prices.
-- Types as in the upstream dump (../shared/data/xeneta/rates.sql). Foreign keys are
-- deferred to commit, so a batch may replace a table that others reference.
CREATE TABLE regions (
    slug        text PRIMARY KEY,
    name        text NOT NULL,
    parent_slug text REFERENCES regions (slug) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE ports (
    code        text PRIMARY KEY,
    name        text NOT NULL,
    parent_slug text NOT NULL REFERENCES regions (slug) DEFERRABLE INITIALLY DEFERRED
);

-- No key: the same lane and day has many prices; /rates averages them.
CREATE TABLE prices (
    orig_code text    NOT NULL REFERENCES ports (code) DEFERRABLE INITIALLY DEFERRED,
    dest_code text    NOT NULL REFERENCES ports (code) DEFERRABLE INITIALLY DEFERRED,
    day       date    NOT NULL,
    price     integer NOT NULL
);
CREATE INDEX prices_lane_day_idx ON prices (orig_code, dest_code, day);
CREATE INDEX prices_day_idx ON prices (day);
