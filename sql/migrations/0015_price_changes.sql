-- The changes to prices, kept as they happen so that price_stats can follow them instead
-- of reading every price again: statement triggers (transition tables, in the writing
-- statement's own transaction) add, per lane and day, how many prices came (or went:
-- negative) and their sum. The SQL job price_stats takes them (sql/transforms/price_stats.sql)
-- and adds them to the aggregates of every pair of places above the lane; a replace that
-- changed one price in ten then costs it those lanes, not all of them.
CREATE TABLE price_changes (
    orig_code text   NOT NULL,
    dest_code text   NOT NULL,
    day       date   NOT NULL,
    prices    bigint NOT NULL,
    total     bigint NOT NULL
);

CREATE FUNCTION price_changes_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO price_changes (orig_code, dest_code, day, prices, total)
    SELECT orig_code, dest_code, day, count(*), sum(price) FROM added GROUP BY 1, 2, 3;
    RETURN NULL;
END
$$;

CREATE FUNCTION price_changes_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO price_changes (orig_code, dest_code, day, prices, total)
    SELECT orig_code, dest_code, day, -count(*), -sum(price) FROM removed GROUP BY 1, 2, 3;
    RETURN NULL;
END
$$;

CREATE FUNCTION price_changes_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO price_changes (orig_code, dest_code, day, prices, total)
    SELECT orig_code, dest_code, day, -count(*), -sum(price) FROM removed GROUP BY 1, 2, 3
    UNION ALL
    SELECT orig_code, dest_code, day, count(*), sum(price) FROM added GROUP BY 1, 2, 3;
    RETURN NULL;
END
$$;

-- A TRUNCATE has no transition table: every price goes, so it is taken out before.
CREATE FUNCTION price_changes_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO price_changes (orig_code, dest_code, day, prices, total)
    SELECT orig_code, dest_code, day, -count(*), -sum(price) FROM prices GROUP BY 1, 2, 3;
    RETURN NULL;
END
$$;

CREATE TRIGGER prices_added AFTER INSERT ON prices
REFERENCING NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION price_changes_added();

CREATE TRIGGER prices_removed AFTER DELETE ON prices
REFERENCING OLD TABLE AS removed
FOR EACH STATEMENT EXECUTE FUNCTION price_changes_removed();

CREATE TRIGGER prices_updated AFTER UPDATE ON prices
REFERENCING OLD TABLE AS removed NEW TABLE AS added
FOR EACH STATEMENT EXECUTE FUNCTION price_changes_updated();

CREATE TRIGGER prices_truncated BEFORE TRUNCATE ON prices
FOR EACH STATEMENT EXECUTE FUNCTION price_changes_truncated();

-- Changes made before these triggers were not kept: the job's next run reads every price.
DELETE FROM pgbatch.watermarks WHERE job = 'price_stats';
