"""Writes a CSV file as Parquet the way a data engineer's pyarrow script would: the header
as it is (mixed case), types inferred by pyarrow, nameless columns and blank records
dropped. The cross-format tests load both forms with one job spec and compare.

Usage: python3 csv_to_parquet.py CSV PARQUET [--delimiter ;] [--decimal ,] [--null NA ...]
                                 [--skip-rows N] [--encoding mac_roman] [--row-group-rows N]
Needs: pip install pyarrow
"""

import argparse

import pyarrow.compute as pc
import pyarrow.csv as csv
import pyarrow.parquet as pq


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("source")
    args.add_argument("target")
    args.add_argument("--delimiter", default=",")
    args.add_argument("--decimal", default=".")
    args.add_argument("--null", action="append", default=None)
    args.add_argument("--skip-rows", type=int, default=0)
    args.add_argument("--encoding", default="utf8")
    args.add_argument("--row-group-rows", type=int, default=None)
    a = args.parse_args()
    table = csv.read_csv(
        a.source,
        read_options=csv.ReadOptions(skip_rows=a.skip_rows, encoding=a.encoding),
        parse_options=csv.ParseOptions(delimiter=a.delimiter, newlines_in_values=True),
        convert_options=csv.ConvertOptions(
            decimal_point=a.decimal,
            null_values=a.null if a.null is not None else [""],
            strings_can_be_null=True,
        ),
    )
    table = table.select([i for i, name in enumerate(table.column_names) if name])
    blank = None
    for column in table.columns:
        missing = pc.is_null(column)
        blank = missing if blank is None else pc.and_(blank, missing)
    table = table.filter(pc.invert(blank))
    pq.write_table(table, a.target, row_group_size=a.row_group_rows)


if __name__ == "__main__":
    main()
