"""Writes the bench's long or narrow CSV (no header) as Parquet for the Parquet loads
(untimed).

Usage: python3 to_parquet.py CSV PARQUET [long|narrow]
Needs: pip install pyarrow
"""

import sys

import pyarrow as pa
import pyarrow.csv as pc
import pyarrow.parquet as pq

LONG = pa.schema(
    [
        ("station", pa.string()),
        ("parameter", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("value", pa.float64()),
        ("unit", pa.string()),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
    ]
)
NARROW = pa.schema(
    [
        ("station", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("value", pa.float64()),
    ]
)


def main() -> None:
    source, target = sys.argv[1:3]
    schema = NARROW if sys.argv[3:] == ["narrow"] else LONG
    table = pc.read_csv(
        source,
        read_options=pc.ReadOptions(column_names=schema.names),
        convert_options=pc.ConvertOptions(column_types=schema),
    )
    pq.write_table(table, target)


if __name__ == "__main__":
    main()
