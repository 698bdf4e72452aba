"""Job parameters: declared with their types, checked at every start.

A job declares each parameter it reads as a ``Param``; a start with a
parameter the job does not declare, a missing required one, or a value of the
wrong type is refused with one ``BadMessage`` naming every problem. Values
are JSON values (a message's ``params``); ``params_from_text`` reads them from
the command line's ``key=value`` text. Strings and lists are bounded, so a
start cannot store megabytes in the run ledger.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import BadMessage, ConfigurationError

TYPES: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")
_NAME = re.compile(r"[a-z][a-z0-9_]*")
# What an error shows of a bad value or name: enough to recognise it, never the whole of it.
EXCERPT_CHARS = 40
# Problems named one by one in an error; a flood of unknown names is summarised past this.
MAX_NAMED = 10


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of a job.

    ``type`` is ``bool``, ``int``, ``float`` (any JSON number) or ``str``;
    ``many`` makes it a list of them. A string is at most ``max_length``
    characters (default 200) and, with ``pattern``, must match it whole; a
    list has at most ``max_items`` items (default 100). ``default`` is
    stored with the run when the parameter is not given.
    """

    name: str
    type: type = str
    required: bool = False
    default: Any = None
    help: str = ""
    many: bool = False
    max_length: int = 200
    max_items: int = 100
    pattern: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ConfigurationError(f"parameter {self.name!r}: names are lower case letters, digits and _")
        if self.type not in TYPES:
            raise ConfigurationError(f"parameter {self.name}: type must be one of bool, int, float, str")
        if self.required and self.default is not None:
            raise ConfigurationError(f"parameter {self.name}: a required parameter has no default")
        if self.pattern is not None and self.type is not str:
            raise ConfigurationError(f"parameter {self.name}: only a string has a pattern")
        if self.default is not None and _problem(self, self.default) is not None:
            raise ConfigurationError(f"parameter {self.name}: default {self.default!r} is not {_a(self.kind)}")

    @property
    def kind(self) -> str:
        """The type as people read it: ``integer``, ``list of strings``."""
        return f"list of {TYPES[self.type]}s" if self.many else TYPES[self.type]

    def describe(self) -> str:
        """One line for docs and the CLI: name, type, required or default, help."""
        if self.required:
            status = "required"
        elif self.default is not None:
            status = f"default `{json.dumps(self.default)}`"
        else:
            status = "optional"
        return f"`{self.name}` ({self.kind}, {status})" + (f": {self.help}" if self.help else "")


def declare(params: Iterable[Param], owner: str) -> tuple[Param, ...]:
    """The declarations as a tuple, refusing a name declared twice."""
    result = tuple(params)
    names = [p.name for p in result]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigurationError(f"{owner}: parameters declared twice: {', '.join(twice)}")
    return result


def excerpt(value: Any) -> str:
    """A bad value as an error shows it: its JSON, cut short."""
    try:
        shown = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        shown = repr(value)
    return shown if len(shown) <= EXCERPT_CHARS else f"{shown[:EXCERPT_CHARS]}... ({len(shown)} chars)"


def _a(kind: str) -> str:
    return f"a{'n' if kind[0] in 'aeiou' else ''} {kind}"


def _one_problem(param: Param, value: Any) -> str | None:
    kind = TYPES[param.type]
    if param.type is bool:
        ok = isinstance(value, bool)
    elif param.type is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif param.type is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    else:
        ok = isinstance(value, str)
    if not ok:
        return f"must be {_a(kind)}, got {excerpt(value)}"
    if param.type is str:
        if "\x00" in value:
            # PostgreSQL cannot store a NUL in text or jsonb: refused here, not by the run's insert.
            return f"must not contain NUL characters, got {excerpt(value)}"
        if len(value) > param.max_length:
            return f"is at most {param.max_length} characters, got {len(value)}: {excerpt(value)}"
        if param.pattern is not None and not re.fullmatch(param.pattern, value):
            return f"must match {param.pattern}, got {excerpt(value)}"
    return None


def _problem(param: Param, value: Any) -> str | None:
    if not param.many:
        return _one_problem(param, value)
    if not isinstance(value, list):
        return f"must be a {param.kind}, got {excerpt(value)}"
    if len(value) > param.max_items:
        return f"has at most {param.max_items} items, got {len(value)}"
    for position, item in enumerate(value):
        problem = _one_problem(param, item)
        if problem is not None:
            return f"item {position} {problem}"
    return None


def _refuse(job: str, declared: Sequence[Param], problems: list[tuple[str, str]]) -> BadMessage:
    """One error naming every problem; ``problems`` are (parameter name, what is wrong with it)."""
    texts = [problem for _, problem in problems]
    shown = texts[:MAX_NAMED] + ([f"and {len(texts) - MAX_NAMED} more"] if len(texts) > MAX_NAMED else [])
    takes = ", ".join(f"{p.name} ({p.kind})" for p in declared) or "none"
    return BadMessage(f"job {job}: {'; '.join(shown)} (its parameters: {takes})", fields=tuple(problems[:MAX_NAMED]))


def _shown_name(name: Any) -> str:
    return excerpt(name) if not isinstance(name, str) or len(name) > EXCERPT_CHARS else name


def _unknown(declared: Sequence[Param], given: Iterable[Any]) -> list[tuple[str, str]]:
    known = {p.name for p in declared}
    return [(_shown_name(name), f"unknown parameter {_shown_name(name)}") for name in given if name not in known]


def check_params(job: str, declared: Sequence[Param], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """``given`` checked against ``declared``: the values with defaults added.

    Raises BadMessage naming every unknown, missing or ill-typed parameter
    (with an excerpt of the value, never the whole of it).
    """
    given = given or {}
    if not isinstance(given, Mapping):
        raise BadMessage(f"job {job} parameters must be a JSON object, got {excerpt(given)}")
    problems: list[tuple[str, str]] = []
    result: dict[str, Any] = {}
    for param in declared:
        if param.name not in given:
            if param.required:
                problems.append((param.name, f"missing parameter {param.name} ({param.kind})"))
            elif param.default is not None:
                result[param.name] = param.default
            continue
        problem = _problem(param, given[param.name])
        if problem is not None:
            problems.append((param.name, f"parameter {param.name} {problem}"))
        else:
            result[param.name] = given[param.name]
    # After the declared ones: a flood of unknown names must not hide them.
    problems += _unknown(declared, given)
    if problems:
        raise _refuse(job, declared, problems)
    return result


def _from_text(param: Param, text: str) -> Any:
    """One value read from text; ValueError if it is not one of the parameter's type."""
    if param.type is bool:
        if text.strip().lower() in _TRUE:
            return True
        if text.strip().lower() in _FALSE:
            return False
        raise ValueError
    if param.type is int:
        return int(text.strip())
    if param.type is float:
        number = float(text.strip())
        return number if math.isfinite(number) else text  # left for the check to refuse
    return text


def _list_from_text(param: Param, text: str) -> list[Any]:
    if text.lstrip().startswith("["):
        value = json.loads(text)
        if not isinstance(value, list):
            raise ValueError
        return value
    return [_from_text(param, part) for part in text.split(",")] if text.strip() else []


def params_from_text(job: str, declared: Sequence[Param], pairs: Sequence[str]) -> dict[str, Any]:
    """``key=value`` texts (the CLI's ``--param``) as typed values, checked like a message's.

    A list is comma-separated or a JSON array; a boolean is true/false,
    yes/no, 1/0 or on/off. Raises BadMessage naming every bad pair.
    """
    by_name = {p.name: p for p in declared}
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            problems.append((_shown_name(name), f"--param takes key=value, got {excerpt(pair)}"))
        elif name in values:
            problems.append((name, f"parameter {name} given twice"))
        elif name not in by_name:
            problems.extend(_unknown(declared, [name]))
        else:
            param = by_name[name]
            try:
                values[name] = _list_from_text(param, text) if param.many else _from_text(param, text)
            except ValueError:
                problems.append((name, f"parameter {name} must be {_a(param.kind)}, got {excerpt(text)}"))
    if problems:
        raise _refuse(job, declared, problems)
    return check_params(job, declared, values)
