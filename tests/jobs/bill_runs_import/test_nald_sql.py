"""The SQL that reads NALD's varchar numbers without failing a statement, run on PostgreSQL."""

from decimal import Decimal

import pytest
from sqlalchemy import text

from wrls_actors.jobs.bill_runs_import.nald_sql import integer, number, readable

VALUES = ["12.50", " -3 ", ".5", "7.", "null", "", None, "x", "1,5", "1e3", "12345678901"]


@pytest.fixture
def parsed(wrls):
    sql = text(f"""
        SELECT v, {number('v')} AS number, {integer('v')} AS integer,
               {readable(numbers=('v',))} AS number_ok, {readable(integers=('v',))} AS integer_ok,
               {readable(required=('v',))} AS required_ok
        FROM unnest(CAST(:values AS text[])) AS v""")
    with wrls.engine.connect() as connection:
        return {row.v: row for row in connection.execute(sql, {"values": VALUES})}


def test_numbers_parse_and_anything_else_is_null_and_unreadable(parsed):
    assert {v: r.number for v, r in parsed.items()} == {
        "12.50": Decimal("12.50"), " -3 ": Decimal(-3), ".5": Decimal("0.5"), "7.": Decimal(7), "null": None,
        "": None, None: None, "x": None, "1,5": None, "1e3": None, "12345678901": Decimal(12345678901)}
    assert {v for v, r in parsed.items() if not r.number_ok} == {"x", "1,5", "1e3"}


def test_integers_fit_an_integer_column_and_required_ones_must_be_there(parsed):
    assert {v: r.integer for v, r in parsed.items() if r.integer is not None} == {" -3 ": -3}
    assert {v for v, r in parsed.items() if not r.integer_ok} == {"12.50", ".5", "7.", "x", "1,5", "1e3",
                                                                    "12345678901"}
    assert {v for v, r in parsed.items() if r.required_ok} == {" -3 "}
