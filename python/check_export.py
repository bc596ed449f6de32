"""Compare a Parquet export with the token ids and labels the Rust encoder produced.

Usage: python3 check_export.py EXPORT.parquet EXPECTED.json

EXPECTED.json contains {"rows": [{"id", "input_ids", "labels"}, ...]} in export order.
Exits with status 1 and a message naming the first mismatch, 0 when every row matches.
"""

import json
import sys

import pyarrow.parquet as pq

IGNORE_INDEX = -100


def main() -> int:
    export_path, expected_path = sys.argv[1], sys.argv[2]
    table = pq.read_table(export_path)
    expected_columns = ["id", "input_ids", "attention_mask", "labels"]
    if table.column_names != expected_columns:
        print(f"columns {table.column_names}, expected {expected_columns}")
        return 1

    rows = table.to_pylist()
    with open(expected_path, encoding="utf-8") as file:
        expected = json.load(file)["rows"]
    if len(rows) != len(expected):
        print(f"{len(rows)} rows in the export, {len(expected)} expected")
        return 1

    for row, want in zip(rows, expected):
        record = row["id"]
        if record != want["id"]:
            print(f"row id {record}, expected {want['id']}")
            return 1
        if row["input_ids"] != want["input_ids"]:
            print(f"{record}: input_ids differ")
            return 1
        if row["labels"] != want["labels"]:
            print(f"{record}: labels differ")
            return 1
        if row["attention_mask"] != [1] * len(row["input_ids"]):
            print(f"{record}: attention_mask is not all ones")
            return 1
        # Hugging Face convention: unshifted labels, each the token id or -100.
        for token, label in zip(row["input_ids"], row["labels"]):
            if label not in (token, IGNORE_INDEX):
                print(f"{record}: label {label} is neither its token {token} nor {IGNORE_INDEX}")
                return 1

    print(f"{len(rows)} rows match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
