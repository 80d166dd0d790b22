"""The error report CSV: one row per problem, every column, formula-safe cells (CASES.md C20)."""

from __future__ import annotations

import csv
from io import StringIO

import pytest

from importer.outcomes import RowProblem
from importer.report import CSV_COLUMNS, iter_error_csv, safe_cell, write_error_csv


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (None, ""),
        (12, "12"),
    ],
)
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_error_csv_has_every_column_and_neutralised_cells():
    out = StringIO()
    count = write_error_csv(
        [
            RowProblem(
                table="stock",
                file="AWSDynamoDB/x/data/a.json.gz",
                line=12,
                item_key="id=S1",
                attribute="qty",
                field="quantity",
                raw_value="=1+2",
                message="not an integer",
            ),
            RowProblem(table="users", message="table users not imported: data file missing"),
        ],
        out,
    )
    assert count == 2
    rows = list(csv.reader(StringIO(out.getvalue())))
    assert rows == [
        list(CSV_COLUMNS),
        [
            "stock",
            "AWSDynamoDB/x/data/a.json.gz",
            "12",
            "id=S1",
            "qty",
            "quantity",
            "'=1+2",
            "not an integer",
        ],
        ["users", "", "", "", "", "", "", "table users not imported: data file missing"],
    ]


def test_streamed_csv_is_the_written_csv_header_first():
    problems = [
        RowProblem(table="t", message="bad", file="f", line=1, raw_value="=x"),
        RowProblem(table="t", message="worse", file="f", line=2),
    ]
    out = StringIO()
    write_error_csv(problems, out)
    pieces = list(iter_error_csv(problems))
    assert pieces[0] == "table,file,line,item_key,attribute,field,raw_value,message\r\n"
    assert len(pieces) == 3
    assert "".join(pieces) == out.getvalue()
