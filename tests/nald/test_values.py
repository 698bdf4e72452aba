"""NALD's value rules, from one table of cases: the Python rules and their SQL twins on PostgreSQL.

Every job reads NALD through these, so each row says what a NALD field means
to all of them: NULL or not, and what it is as a date, a whole number, a
decimal and a leading whole number (JavaScript's ``parseInt``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text

from tests.support import services as svc
from wrls_actors.nald import sql, values

BAD = ValueError  # the rule refuses the value, saying why

#: value, is NULL, date, whole number, decimal, leading whole number
CASES = [
    (None, True, None, None, None, None),
    ("null", True, None, None, None, None),
    ("NULL", True, None, None, None, None),
    (" Null ", True, None, None, None, None),
    ("", True, None, None, None, None),
    ("   ", True, None, None, None, None),
    ("\t", True, None, None, None, None),
    ("Null Farm", False, BAD, BAD, BAD, None),
    ("nullable", False, BAD, BAD, BAD, None),
    ("01/04/2019", False, date(2019, 4, 1), BAD, BAD, 1),
    ("1/4/2019", False, date(2019, 4, 1), BAD, BAD, 1),
    (" 01/04/2019 ", False, date(2019, 4, 1), BAD, BAD, 1),
    ("31/03/2020 00:00:00", False, date(2020, 3, 31), BAD, BAD, 31),
    ("05/04/2016 11:24", False, date(2016, 4, 5), BAD, BAD, 5),
    ("05/04/2016 later", False, BAD, BAD, BAD, 5),
    ("05/04/2016T11:24:02", False, BAD, BAD, BAD, 5),
    ("31/02/2020", False, BAD, BAD, BAD, 31),
    ("2019-04-01", False, BAD, BAD, BAD, 2019),
    ("01/04/19", False, BAD, BAD, BAD, 1),
    ("12", False, BAD, 12, Decimal(12), 12),
    (" -3 ", False, BAD, -3, Decimal(-3), -3),
    ("+7", False, BAD, 7, Decimal(7), 7),
    ("12345678901", False, BAD, 12345678901, Decimal(12345678901), 12345678901),
    ("12.50", False, BAD, BAD, Decimal("12.50"), 12),
    (".5", False, BAD, BAD, Decimal("0.5"), None),
    ("7.", False, BAD, BAD, Decimal(7), 7),
    ("1,5", False, BAD, BAD, BAD, 1),
    ("1e3", False, BAD, BAD, BAD, 1),
    ("1_000", False, BAD, BAD, BAD, 1),
    ("NaN", False, BAD, BAD, BAD, None),
    ("Infinity", False, BAD, BAD, BAD, None),
    ("\u0661\u0662", False, BAD, BAD, BAD, None),  # Arabic-Indic digits: not NALD's
    (" 7x", False, BAD, BAD, BAD, 7),
    ("x", False, BAD, BAD, BAD, None),
]

IDS = [repr(case[0]) for case in CASES]


def _read(rule, value):
    try:
        return rule(value)
    except ValueError:
        return BAD


@pytest.mark.parametrize("value, null, day, whole, number, leading", CASES, ids=IDS)
def test_python_rules(value, null, day, whole, number, leading):
    assert values.is_null(value) is null
    assert values.text(value) == (None if null else value)
    assert _read(values.nald_date, value) == day
    assert _read(values.integer, value) == whole
    assert _read(values.decimal, value) == number
    assert values.leading_integer(value) == leading


def test_a_refusal_says_what_the_value_is_not():
    for rule, message in (
        (values.nald_date, "is not a DD/MM/YYYY date"),
        (values.integer, "is not a whole number"),
        (values.decimal, "is not a number"),
    ):
        with pytest.raises(ValueError, match=f"^'x' {message}$"):
            rule("x")
    for _ in range(2):  # dates read are remembered; a bad one is refused every time
        with pytest.raises(ValueError, match="'31/02/2020' is not a DD/MM/YYYY date"):
            values.nald_date("31/02/2020")


def test_column_bounds_and_required_values():
    assert values.smallint("32767") == 32767
    with pytest.raises(ValueError, match="out of range"):
        values.smallint("40000")
    assert values.required_integer(" 3 ") == 3
    with pytest.raises(ValueError, match="a number is required"):
        values.required_integer("null")
    with pytest.raises(ValueError, match="out of range"):
        values.required_integer("12345678901")
    assert values.required_date("1/4/2002") == date(2002, 4, 1)
    with pytest.raises(ValueError, match="a date is required"):
        values.required_date("")
    assert values.nald_date(date(2020, 1, 2)) == date(2020, 1, 2)


@pytest.fixture(scope="module")
def in_sql():
    """Each case's value through the SQL twins, on PostgreSQL (no tables: only expressions)."""
    svc.require(5432, "PostgreSQL")
    engine = create_engine(svc.database_url("postgres").replace("postgresql://", "postgresql+psycopg2://", 1))
    query = text(f"""
        SELECT n, {sql.is_null("v")} AS null, {sql.nald_text("v")} AS text, {sql.number("v")} AS number,
               {sql.integer("v")} AS integer, {sql.readable(numbers=("v",))} AS number_ok,
               {sql.readable(integers=("v",))} AS integer_ok, {sql.readable(required=("v",))} AS required_ok
        FROM unnest(CAST(:values AS text[])) WITH ORDINALITY AS t(v, n)""")
    try:
        with engine.connect() as connection:
            rows = connection.execute(query, {"values": [case[0] for case in CASES]}).all()
    finally:
        engine.dispose()
    return {row.n - 1: row for row in rows}


@pytest.mark.parametrize("n", range(len(CASES)), ids=IDS)
def test_sql_twins_agree(in_sql, n):
    value, null, _, whole, number, _ = CASES[n]
    row = in_sql[n]
    # An integer column takes nine digits at most, so the SQL form refuses longer ones before casting.
    fits = whole is BAD or whole is None or len(str(abs(whole))) <= 9
    assert row.null is null
    assert row.text == (None if null else value)
    assert row.number == (None if number is BAD else number)
    assert row.number_ok is (number is not BAD)
    assert row.integer == (None if whole is BAD or not fits else whole)
    assert row.integer_ok is (whole is not BAD and fits)
    assert row.required_ok is (whole is not BAD and whole is not None and fits)


def test_quote_doubles_quotes_inside_an_identifier():
    assert sql.quote('NALD_"X"') == '"NALD_""X"""'
    assert sql.licence_query("import_temp").startswith('SELECT * FROM "import_temp"."NALD_ABS_LICENCES"')
