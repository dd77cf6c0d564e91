-- A committed batch's rejected rows, one array per column ($2..$9, one element per row).
INSERT INTO pgbatch.rejects
    (batch_id, ordinal, source, line, row_group, row_in_group, column_name, value, reason)
SELECT $1, r.ordinal, r.source, r.line, r.row_group, r.row_in_group, r.column_name, r.value, r.reason
FROM unnest($2::integer[], $3::text[], $4::bigint[], $5::integer[], $6::bigint[], $7::text[],
            $8::bytea[], $9::text[])
    AS r (ordinal, source, line, row_group, row_in_group, column_name, value, reason)
