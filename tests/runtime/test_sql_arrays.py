"""Array literals read back by PostgreSQL as the same values psycopg2's own list adaptation sends."""

import json
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import create_engine, text

from tests.support import services as svc
from wrls_actors.runtime.database import sqlalchemy_url
from wrls_actors.runtime.sql_arrays import array_literal

AWKWARD_TEXT = [
    "plain",
    "",
    "NULL",
    'say "hi"',
    "back\\slash",
    '\\"',
    "a,b",
    "{braces}",
    "  spaced  ",
    "it's",
    "line\nbreak",
    "ünïcödé ✓",
    None,
]

CASES = [
    ("text[]", AWKWARD_TEXT),
    ("int[]", [1, -2, 0, None, 2**31 - 1]),
    ("bigint[]", [2**40, None]),
    ("float8[]", [0.1, 1e-07, -3.5, None, 123456789.125]),
    ("bool[]", [True, False, None]),
    ("date[]", [date(2018, 10, 31), date(1, 1, 1), None]),
    ("timestamptz[]", [datetime(2026, 12, 7, 5, 31, 38, 123456, tzinfo=UTC), None]),
    ("uuid[]", [uuid.UUID("5acd08b0-0c54-4d84-a9c5-000000000001"), "22914806-0c7a-55be-ab00-000000000002"]),
    ("jsonb[]", [json.dumps({"a": 'quote " and \\ backslash', "n": [1, None]}), json.dumps([]), None]),
]


@pytest.fixture
def engine(database):
    engine = create_engine(sqlalchemy_url(svc.database_url(database)))
    yield engine
    engine.dispose()


@pytest.mark.parametrize(("pg_type", "values"), CASES, ids=[c[0] for c in CASES])
def test_a_literal_reads_back_as_what_psycopg2_would_have_sent_element_by_element(engine, pg_type, values):
    with engine.connect() as connection:
        ours = connection.execute(text(f"SELECT CAST(:v AS {pg_type})"), {"v": array_literal(values)}).scalar()
        theirs = connection.execute(text(f"SELECT CAST(:v AS {pg_type})"), {"v": values}).scalar()
    assert ours == theirs
    assert len(ours) == len(values)
    assert [v is None for v in ours] == [v is None for v in values]


def test_an_empty_list_is_an_empty_array(engine):
    with engine.connect() as connection:
        assert connection.execute(text("SELECT CAST(:v AS text[])"), {"v": array_literal([])}).scalar() == []


def test_the_text_of_an_element_is_kept_exactly(engine):
    with engine.connect() as connection:
        back = connection.execute(text("SELECT CAST(:v AS text[])"), {"v": array_literal(AWKWARD_TEXT)}).scalar()
    assert back == AWKWARD_TEXT


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], (1,), b"bytes"])
def test_an_element_that_is_not_a_scalar_is_refused(value):
    with pytest.raises(TypeError, match="scalar"):
        array_literal(["fine", value])
