-- The fingerprint of the resolved job each batch was loaded with (mapping, formats, parse
-- rules, mode): the content hash includes it, so a corrected job spec makes a new batch.
-- NULL for batches recorded before it was kept; their content hash covers the job name and
-- the sources only.
ALTER TABLE pgbatch.batches ADD COLUMN job_hash text;
