"""The legacy export's CSV rules, each value formatted by the real PostgreSQL ``COPY`` the job runs.

The expected texts are what the legacy's JavaScript wrote for the same values
(its own tests' cases, and the JSON and date rules worked through by hand).
"""

from __future__ import annotations

import io

import psycopg2
import pytest

from tests.support import services as svc
from wrls_actors.jobs.export.csv_rules import build_copy, build_header, camel_case
from wrls_actors.jobs.export.tables import read_tables


@pytest.mark.parametrize(
    "name, expected",
    [
        ("region_id", "regionId"),
        ("address_line_1", "addressLine1"),
        ("time_limited_end_date", "timeLimitedEndDate"),
        ("id", "id"),
        ("_private", "_Private"),
        ("double__underscore", "doubleUnderscore"),
        ("trailing_", "trailing"),
        ("NALD_ID", "NALDID"),
        ("alreadyCamel", "alreadyCamel"),
        ("", ""),
    ],
)
def test_column_names_are_camel_cased_as_the_legacy_name_mapper_did(name, expected):
    assert camel_case(name) == expected


def test_the_header_is_quoted_camel_cased_names():
    from wrls_actors.jobs.export.csv_rules import Column

    assert build_header([Column("licence_ref", "text"), Column('odd"name', "text")]) == b'"licenceRef","odd""name"\n'


# (column type, SQL literal, expected field)
CASES = [
    ("text", "'20146cdc'", '"20146cdc"'),
    ("text", "'Low \"including\" 25,002 ML/yr'", '"Low ""including"" 25,002 ML/yr"'),
    ("text", "'back \\ slash'", '"back \\ slash"'),
    ("text", "E'two\\nlines'", '"two\nlines"'),
    ("text", "''", ""),
    ("text", "NULL", ""),
    ("uuid", "'20146cdc-9b40-4769-aa78-b51c17080d56'", '"20146cdc-9b40-4769-aa78-b51c17080d56"'),
    ("varchar(10)", "'4.1.1'", '"4.1.1"'),
    ("boolean", "true", "true"),
    ("boolean", "false", "false"),
    ("boolean", "NULL", ""),
    ("integer", "9700", "9700"),
    ("integer", "0", "0"),
    ("bigint", "-25002", "-25002"),
    ("smallint", "NULL", ""),
    ("numeric", "1.50", "1.5"),
    ("numeric(12,2)", "9700.00", "9700"),
    ("numeric", "'NaN'", ""),
    ("double precision", "0.1", "0.1"),
    ("real", "2.5", "2.5"),
    ("double precision", "'NaN'", ""),
    ("date", "'2021-02-01'", "2021-02-01"),
    ("timestamp", "'2022-12-14 18:39:45'", "2022-12-14T18:39:45.000Z"),
    ("timestamp", "'2021-02-01 12:20:12.012987'", "2021-02-01T12:20:12.012Z"),
    ("timestamp", "'2021-02-01 00:00:00'", "2021-02-01"),
    ("timestamptz", "'2021-02-01 01:00:00+01'", "2021-02-01"),
    ("timestamptz", "'2021-07-01 12:00:00+01'", "2021-07-01T11:00:00.000Z"),
    ("jsonb", """'{"message": "a json object"}'""", '"{""message"": ""a json object""}"'),
    ("jsonb", """'{"b":[1,2,{"c":null}],"a":"x: y, z"}'""", '"{""a"": ""x:  y,  z"", ""b"": [1, 2, {""c"": null}]}"'),
    ("json", """'{ "z" : "q\\"uote: 1" ,"a":[ true ] }'""", '"{""z"": ""q\\""uote:  1"", ""a"": [true]}"'),
    ("jsonb", "'[]'", '"[]"'),
    ("jsonb", """'"plain string"'""", '"plain string"'),
    ("jsonb", "'null'", ""),
    ("jsonb", "NULL", ""),
    ("integer[]", "'{1,2}'", '"[1, 2]"'),
    ("text[]", """'{"a,b",c}'""", '"[""a, b"", ""c""]"'),
]


@pytest.fixture
def db(database):
    connection = psycopg2.connect(svc.database_url(database))
    connection.autocommit = True
    yield connection
    connection.close()


def test_every_value_is_written_as_the_legacy_wrote_it(db):
    with db.cursor() as cursor:
        cursor.execute("CREATE SCHEMA rules")
        columns = ", ".join(f"c{i} {kind}" for i, (kind, _, _) in enumerate(CASES))
        cursor.execute(f"CREATE TABLE rules.one_each ({columns})")
        for i, (_, literal, _) in enumerate(CASES):
            cursor.execute(f"INSERT INTO rules.one_each (c{i}) VALUES ({literal})")
    tables = read_tables(db, "rules")
    out = io.BytesIO()
    with db.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Europe/London'")  # the session's zone changes nothing
        cursor.copy_expert(build_copy("rules", "one_each", tables["one_each"]), out)
    rows = _raw_rows(out.getvalue().decode(), len(CASES))
    assert len(rows) == len(CASES)
    # Row i has only value i set (the others NULL, so empty).
    got = {(kind, literal): rows[i][i] for i, (kind, literal, _) in enumerate(CASES)}
    assert got == {(kind, literal): expected for kind, literal, expected in CASES}
    assert all(field == "" for i, row in enumerate(rows) for j, field in enumerate(row) if j != i)


def _raw_rows(text: str, width: int) -> list[list[str]]:
    """Split COPY's CSV into fields keeping their raw text (quotes and all), to compare with the legacy's."""
    rows, row, field, quoted = [], [], "", False
    for char in text:
        if quoted:
            field += char
            if char == '"':
                quoted = False  # a doubled quote re-opens at once below
            continue
        if char == '"':
            quoted = True
            field += char
        elif char == ",":
            row.append(field)
            field = ""
        elif char == "\n":
            row.append(field)
            rows.append(row)
            row, field = [], ""
        else:
            field += char
    assert all(len(r) == width for r in rows)
    return rows


def test_tables_are_listed_with_their_columns_in_order_and_views_left_out(db):
    with db.cursor() as cursor:
        cursor.execute("CREATE SCHEMA listed")
        cursor.execute("CREATE DOMAIN listed.money_amount AS numeric")
        cursor.execute("CREATE TABLE listed.b (z int, a listed.money_amount, tags text[])")
        cursor.execute("ALTER TABLE listed.b DROP COLUMN z")
        cursor.execute("CREATE TABLE listed.a ()")
        cursor.execute("CREATE VIEW listed.v AS SELECT 1 AS one")
    tables = read_tables(db, "listed")
    assert list(tables) == ["a", "b"]
    assert tables["a"] == []
    assert [(c.name, c.type, c.is_array) for c in tables["b"]] == [("a", "numeric", False), ("tags", "text[]", True)]
