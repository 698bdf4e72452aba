"""Parsing and checking the charge categories file: typed values, and every bad
row named by line and column before anything is applied."""

from __future__ import annotations

import pytest

from wrls_actors.jobs.charge_categories_sync.sync_from_csv import SPEC
from wrls_actors.jobs.csv_sync import parse_csv
from wrls_actors.runtime import PermanentError

NAME = "billing-metadata/charge-categories.csv"
HEADER = (
    "reference,subsistence_charge,description,short_description,min_volume,max_volume,is_tidal,"
    "loss_factor,model_tier,is_restricted_source"
)
ROW_1 = "4.1.1,1495,Low loss non-tidal abstraction,Low loss,0,5000,FALSE,low,tier 1,false"
ROW_2 = '4.1.2,2990,"Low loss, tidal",Low loss tidal,5000,15000,true,low,tier 1,TRUE'


def parse(*lines: str) -> list[dict]:
    return [row.values for row in parse_csv(NAME, ("\n".join(lines) + "\n").encode(), SPEC)]


def problem(*lines: str, raw: bytes | None = None) -> str:
    with pytest.raises(PermanentError) as e:
        parse_csv(NAME, raw if raw is not None else ("\n".join(lines) + "\n").encode(), SPEC)
    return str(e.value)


def test_values_are_typed_as_their_columns():
    [first, second] = parse(HEADER, ROW_1, ROW_2)
    assert first == {
        "reference": "4.1.1",
        "subsistence_charge": 1495,
        "description": "Low loss non-tidal abstraction",
        "short_description": "Low loss",
        "min_volume": 0,
        "max_volume": 5000,
        "is_tidal": False,
        "loss_factor": "low",
        "model_tier": "tier 1",
        "is_restricted_source": False,
    }
    assert second["description"] == "Low loss, tidal"
    assert (second["is_tidal"], second["is_restricted_source"]) == (True, True)


def test_spreadsheet_habits_are_read_as_the_same_values():
    # A byte order mark, CRLF line ends, padded fields, a blank line, columns in another order plus one more.
    content = (
        "\ufeff" + "notes," + HEADER.replace("min_volume,max_volume", "max_volume,min_volume") + "\r\n"
        "ignored, 4.1.1 , 1495 ,Low loss non-tidal abstraction,Low loss,5000,0,F,low,tier 1,no\r\n\r\n"
    )
    [row] = parse_csv(NAME, content.encode(), SPEC)
    assert row.values == parse(HEADER, ROW_1)[0]
    assert row.line == 2


def test_the_short_description_is_cut_at_150_characters_as_the_legacy_did():
    [row] = parse(HEADER, ROW_1.replace(",Low loss,", f",{'x' * 200},"))
    assert row["short_description"] == "x" * 150


BAD = [
    (
        "not a whole number",
        [HEADER, ROW_1, ROW_2.replace(",5000,15000,", ",5000,15000.5,")],
        "line 3, column max_volume: '15000.5' is not a whole number",
    ),
    (
        "not a boolean",
        [HEADER, ROW_1.replace(",FALSE,", ",maybe,")],
        "line 2, column is_tidal: 'maybe' is not true or false",
    ),
    (
        "negative charge",
        [HEADER, ROW_1.replace(",1495,", ",-1,")],
        "line 2, column subsistence_charge: '-1' is negative",
    ),
    (
        "empty required value",
        [HEADER, ROW_1.replace(",tier 1,", ",  ,")],
        "line 2, column model_tier: empty, a value is required",
    ),
    (
        "missing column",
        [HEADER.replace(",loss_factor", ""), ROW_1.replace(",low", "")],
        "line 1: the header lacks columns loss_factor",
    ),
    ("repeated column", [HEADER + ",reference", ROW_1 + ",4.1.1"], "line 1: the header repeats columns reference"),
    (
        "duplicate reference",
        [HEADER, ROW_1, ROW_2, ROW_1.replace(",1495,", ",1500,")],
        "line 4, column reference: '4.1.1' is also on line 2",
    ),
    (
        "volumes reversed",
        [HEADER, ROW_1.replace(",0,5000,", ",6000,5000,")],
        "line 2, column max_volume: 5000 is below min_volume 6000",
    ),
    ("too few fields", [HEADER, ROW_1, "4.1.3,10"], "line 3: 2 fields, the header has 10"),
    ("unclosed quote", [HEADER, ROW_1, '4.1.3,10,"never closed,x'], "line 3: not valid CSV (unexpected end of data)"),
    ("header only", [HEADER], "line 2: no data rows after the header"),
]


@pytest.mark.parametrize("lines, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_row_is_named_by_line_and_column(lines, message):
    error = problem(*lines)
    assert error.startswith(f"{NAME}: 1 problem, nothing applied: ")
    assert message in error


def test_a_multi_line_field_counts_its_lines():
    error = problem(HEADER, ROW_2.replace('"Low loss, tidal"', '"Low loss,\ntidal"'), ROW_1.replace(",low,", ",,"))
    assert "line 4, column loss_factor: empty" in error


def test_bytes_that_are_not_utf8_are_named_by_line():
    raw = f"{HEADER}\n{ROW_1}\n".encode() + ROW_2.encode("latin-1").replace(b"Low loss tidal", b"Caf\xe9")
    assert problem(raw=raw) == f"{NAME}: 1 problem, nothing applied: line 3: byte 0xe9 is not UTF-8"


def test_an_empty_file_is_refused():
    assert problem(raw=b"") == f"{NAME}: 1 problem, nothing applied: line 1: the file is empty (no header)"


def test_every_bad_row_is_counted_and_the_first_ones_shown():
    rows = [ROW_1.replace("4.1.1", f"4.{n}.1").replace(",1495,", ",lots,") for n in range(1, 13)]
    error = problem(HEADER, *rows, ROW_2)
    assert error.startswith(f"{NAME}: 12 problems, nothing applied: line 2, column subsistence_charge: 'lots'")
    assert "line 11, column subsistence_charge" in error and "line 12," not in error
    assert error.endswith("; and 2 more")
