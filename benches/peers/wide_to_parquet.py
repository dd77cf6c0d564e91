"""Writes the wide bench's CSV (the Beijing files' 18 columns, with a header, NA for
missing) as Parquet whose columns are the table's, for the Parquet loads (untimed).

Usage: python3 wide_to_parquet.py CSV PARQUET
Needs: pip install pyarrow
"""

import sys

import pyarrow as pa
import pyarrow.csv as pc
import pyarrow.parquet as pq

INTS = ["no", "year", "month", "day", "hour"]
DOUBLES = ["pm25", "pm10", "so2", "no2", "co", "o3", "temp", "pres", "dewp", "rain"]
SCHEMA = pa.schema(
    [(name, pa.int32()) for name in INTS]
    + [(name, pa.float64()) for name in DOUBLES]
    + [("wd", pa.string()), ("wspm", pa.float64()), ("station", pa.string())]
)


def main() -> None:
    source, target = sys.argv[1:3]
    table = pc.read_csv(
        source,
        read_options=pc.ReadOptions(column_names=SCHEMA.names, skip_rows=1),
        convert_options=pc.ConvertOptions(column_types=SCHEMA, null_values=["NA"], strings_can_be_null=True),
    )
    pq.write_table(table, target)


if __name__ == "__main__":
    main()
