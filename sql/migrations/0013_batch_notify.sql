-- Every committed batch is announced on the channel `pgbatch_batches` ("ID TARGET"), by a
-- trigger, so in the same transaction as its ledger row: whatever writes the row (a load,
-- a finalize, a SQL job), listeners hear of it exactly when it commits, and never of one
-- that rolled back. The API keeps the last batch per table in memory from these (its ETag)
-- instead of asking the ledger on every request.
CREATE FUNCTION pgbatch.announce_batch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pgbatch_batches', NEW.id::text || ' ' || NEW.target);
    RETURN NULL;
END
$$;

CREATE TRIGGER batches_announce
AFTER INSERT ON pgbatch.batches
FOR EACH ROW EXECUTE FUNCTION pgbatch.announce_batch();
