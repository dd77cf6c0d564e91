-- Whether a committed batch of job $1 read the same sources: the same paths ($2, a JSON
-- array) with the same sizes ($3), in order. Such a batch is likely a re-run, so its local
-- files are hashed before anything is loaded; any other batch loads while they are hashed.
SELECT EXISTS (
    SELECT 1
    FROM pgbatch.batches
    WHERE job = $1
      AND jsonb_path_query_array(sources, '$[*].path') = $2::text::jsonb
      AND jsonb_path_query_array(sources, '$[*].bytes') = $3::text::jsonb
)
