"""Statements planned once per partition, for the committers that run one for every message.

The start committer (starts.py) and the fan-in committer (fan_in.py) each run
one statement per group of messages, and a group is small: a worker process
has few threads. Planned for each execution (which a statement on the
partitioned tables needs, so that it reads and locks only its run's week),
planning cost PostgreSQL more CPU than running the statement. Instead each
statement is prepared on the one partition that holds the run's week,
found once per run start, and its plan is made once per connection.

A statement on the partitioned parent stays as the fallback: for a run start
whose partition is not known (its run or barrier not found) and for what a
partition statement did not find (its rows moved to another partition since,
by retention). It is sent as plain SQL, so it is planned for its values and
reads only its run's week. ``execute`` runs either kind, and ``connect`` makes
the connection both committers keep for these statements.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from contextlib import closing
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.pool import PoolProxiedConnection

# The connection's plan for a prepared statement is its generic one, made once: every one of these is on
# one partition, so there is nothing a plan for the values would prune.
SETTINGS = ("SET plan_cache_mode = force_generic_plan",)

KEEP_STARTS = 64  # the run starts remembered per connection (a process works on a few runs at a time)


def plain(statement: str) -> str:
    """``statement`` with its ``$n`` parameters as psycopg2's ``%(pn)s`` (see ``plain_parameters``)."""
    return re.sub(r"\$(\d+)", r"%(p\1)s", statement)


def plain_parameters(parameters: Sequence[Any]) -> dict[str, Any]:
    return {f"p{n}": value for n, value in enumerate(parameters, start=1)}


def execute(cursor: DBAPICursor, statement: str, parameters: Sequence[Any]) -> None:
    """Run an ``EXECUTE`` of a prepared statement, or a ``plain`` one, with the same ``$n`` parameters."""
    if statement.startswith("EXECUTE"):
        cursor.execute(statement, parameters)
    else:
        cursor.execute(statement, plain_parameters(parameters))


def connect(engine: Engine, *settings: str) -> PoolProxiedConnection:
    """A committer's own connection: out of the pool, in autocommit, with ``SETTINGS`` and ``settings``."""
    connection = engine.raw_connection()
    connection.detach()
    try:
        dbapi = connection.dbapi_connection
        assert dbapi is not None  # a connection just checked out has its DB-API connection
        dbapi.autocommit = True
        with closing(connection.cursor()) as cursor:
            for setting in (*SETTINGS, *settings):
                cursor.execute(setting)
    except BaseException:
        connection.close()
        raise
    return connection


class PartitionStatements:
    """One connection's statements prepared per partition, by the run start whose partition it is.

    ``template`` is the statement with ``{partition}`` where its partition goes;
    ``locate`` finds the partition of a run start: it returns the partition's
    oid and name for the parameters ``statement_for`` is given, or no row.
    """

    def __init__(self, prefix: str, template: str, locate: str) -> None:
        self.prefix = prefix
        self.template = template
        self.locate = locate
        self._by_start: OrderedDict[Any, str] = OrderedDict()
        self._prepared: dict[int, str] = {}

    def statement_for(self, cursor: DBAPICursor, start: Any, locate: Mapping[str, Any]) -> str | None:
        """The name of the statement prepared on ``start``'s partition, or None if ``locate`` finds none."""
        name = self._by_start.get(start)
        if name is not None:
            self._by_start.move_to_end(start)
            return name
        cursor.execute(self.locate, locate)
        row = cursor.fetchone()
        if row is None:
            return None
        oid, partition = int(row[0]), str(row[1])
        name = self._prepared.get(oid)
        if name is None:
            name = f"{self.prefix}_{oid}"
            # The name is the catalog's own (regclass output, quoted where it needs to be).
            cursor.execute(f"PREPARE {name} AS {self.template.format(partition=partition)}")
            self._prepared[oid] = name
        self._by_start[start] = name
        while len(self._by_start) > KEEP_STARTS:
            self._by_start.popitem(last=False)
        return name

    def forget(self, start: Any) -> None:
        """Look ``start``'s partition up again next time (what its statement found was not all there)."""
        self._by_start.pop(start, None)
