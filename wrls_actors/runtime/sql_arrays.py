"""Array parameters sent as one PostgreSQL array literal each, not as one SQL value per element.

psycopg2 sends a Python list as ``ARRAY['a','b',...]``: every element is
adapted by its own adapter object on the client, and on the server every
element is a node of the statement to parse and plan. A statement writing a
chunk's 1,450 returns has 13 such arrays, 19,000 elements; sent that way it
took 131 ms, sent as 13 literals (``'{"a","b"}'``, parsed by the array
type's own input function) 78 ms, the same rows written (nald-import,
measured on a kept production-size database).

Not for a few big JSON documents: every quote in them is escaped here and
unescaped by the server, where psycopg2 sends each as a plain string.
A chunk's 100 permit documents took 93 ms as one literal, 75 ms as a list.

The statement casts each parameter to its array type (``CAST(:ids AS
text[])``, ``%s::date[]``): the literal has no type of its own. An element
is written as ``str()`` makes it, which is PostgreSQL's input form for the
types passed this way (text, numbers, booleans, ISO dates and timestamps,
UUIDs, and JSON already serialised to text); ``None`` is ``NULL``.
"""

from __future__ import annotations

from collections.abc import Iterable

NOT_ELEMENTS = (dict, list, tuple, set, frozenset, bytes, bytearray)


def _element(value: object) -> str:
    if value is None:
        return "NULL"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, NOT_ELEMENTS):
        # A nested array or a mapping would need its own syntax: serialise it first (JSON, say).
        raise TypeError(f"an array element must be a scalar, not {type(value).__name__}")
    text = str(value)
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def array_literal(values: Iterable[object]) -> str:
    """``values`` as one PostgreSQL array literal, each element quoted (``{"a","b",NULL}``)."""
    return "{" + ",".join([_element(v) for v in values]) + "}"
