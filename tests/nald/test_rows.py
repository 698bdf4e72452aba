"""sort_rows: a fixed order for NALD rows, whatever order they come in."""

import random

from wrls_actors.nald.rows import sort_rows, sort_value

VALUES = [None, "", "null", "9", "10", "010", "31/12/2019", "01/02/2020", "a", "b", " 7"]


def test_rows_are_ordered_by_their_order_columns_then_by_every_value_as_one_key_would():
    rng = random.Random(3)
    # Few distinct values, so many rows tie on the order columns and fall back on the others.
    rows = [{c: rng.choice(VALUES) for c in ("A", "B", "C", "D")} for _ in range(2000)]
    order = ("B", "A")

    def one_key(row):
        return tuple(sort_value(row.get(c)) for c in order), tuple(sort_value(v) for v in row.values())

    expected = sorted(rows, key=one_key)
    for seed in range(3):
        shuffled = random.Random(seed).sample(rows, len(rows))
        assert sort_rows(shuffled, order) == expected
    assert sort_rows(rows) == sorted(rows, key=lambda r: tuple(sort_value(v) for v in r.values()))


def test_a_value_sorts_the_same_whether_its_key_was_worked_out_before_or_not():
    assert sort_value("10") == sort_value("10") == (1, 10, "10")
    assert sort_value(None) == (0, 0, "") and sort_value("null") == (0, 1, "null")
    assert sort_value(7) == (1, 7, "7")  # not text: worked out each time, never cached
