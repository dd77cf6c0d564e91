"""The peer: load a Parquet file with pgpq (Arrow -> binary COPY) through psycopg 3.

Usage: python3 pgpq_load.py URL TABLE FILE
Prints the seconds the load took (connect, COPY, commit), nothing else.
Needs: pip install pgpq 'psycopg[binary]' pyarrow
"""

import sys
import time

import psycopg
import pyarrow.parquet as pq
from pgpq import ArrowToPostgresBinaryEncoder


def main() -> None:
    url, table, path = sys.argv[1:4]
    started = time.perf_counter()
    source = pq.ParquetFile(path)
    encoder = ArrowToPostgresBinaryEncoder(source.schema_arrow)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY {table} FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.write(encoder.write_header())
            for batch in source.iter_batches():
                copy.write(encoder.write_batch(batch))
            copy.write(encoder.finish())
    print(time.perf_counter() - started)


if __name__ == "__main__":
    main()
