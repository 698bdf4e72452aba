"""The ledger's growing tables partitioned by week, so retention drops a week instead of deleting rows.

jobs.runs by started_at, jobs.steps by a new column created_on (the UTC day of
the message's timestamp), jobs.events by at, jobs.ticks by nominal_time,
jobs.barriers and barrier_arrivals by a new column run_started_at (their
run's started_at, so a fan-in goes with its run): one
partition per week from Monday 00:00 UTC, named ``<table>_pYYYYMMDD``, and a
DEFAULT partition (``<table>_default``) for a row no week holds yet (the
ledger-retention job moves such rows into their week, see retention.py).

PostgreSQL requires a unique index on a partitioned table to include its
partition key, so the keys become (run_id, started_at), (message_id,
created_on), (id, at), and run_started_at joins the barriers' and arrivals'; runs.trigger_key is no longer unique (runs.py
serialises starts with a key by an advisory lock and a lookup), and "a dead
letter is replayed once" moves from a unique index on events to
jobs.replays. Failed runs, their failed steps and their events outlive a
dropped week in jobs.archive_runs / archive_steps / archive_events,
partitioned by month.

Existing rows are copied into the new tables in place of the old (a rewrite
of the four tables: on a year's ledger, run it outside the nightly imports).
A step's created_on is taken from its enqueued time, which is within
milliseconds of the message's timestamp. The helpers here are frozen with the
migration on purpose: retention.py's may change, this must not.

Revision ID: 0009
"""

from datetime import UTC, date, datetime, timedelta

from alembic import op
from sqlalchemy import text

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

WEEKS_AHEAD = 4

# table, partition key, the key's SQL type, whether the key is a new column, its value for a row of the old
# table (``t``, beside its run ``r``)
TABLES = (
    ("runs", "started_at", "timestamptz", False, "t.started_at"),
    (
        "steps",
        "created_on",
        "date",
        True,
        "(coalesce(t.enqueued_at, t.started_at, t.heartbeat_at, t.finished_at, now()) AT TIME ZONE 'UTC')::date",
    ),
    ("events", "at", "timestamptz", False, "t.at"),
    ("ticks", "nominal_time", "timestamptz", False, "t.nominal_time"),
    # A fan-in lives in its run's week: dropped with it, and its keys known to every writer.
    ("barriers", "run_started_at", "timestamptz", True, "coalesce(r.started_at, t.created_at)"),
    ("barrier_arrivals", "run_started_at", "timestamptz", True, "coalesce(r.started_at, t.arrived_at)"),
)

NEW_INDEXES = {
    "runs": (
        "ALTER TABLE jobs.runs ADD PRIMARY KEY (run_id, started_at)",
        "CREATE INDEX runs_trigger_key ON jobs.runs (trigger_key) WHERE trigger_key IS NOT NULL",
        "CREATE INDEX runs_job_started ON jobs.runs (job, started_at DESC)",
        "CREATE INDEX runs_running ON jobs.runs (job) WHERE status = 'running'",
        "CREATE INDEX runs_scheduled ON jobs.runs (job, nominal_time) WHERE trigger = 'schedule'",
        "CREATE INDEX runs_started ON jobs.runs (started_at DESC, run_id DESC)",
        "CREATE INDEX runs_status_started ON jobs.runs (status, started_at DESC, run_id DESC)",
    ),
    "steps": (
        "ALTER TABLE jobs.steps ADD PRIMARY KEY (message_id, created_on)",
        "CREATE INDEX steps_run ON jobs.steps (run_id)",
        "CREATE INDEX steps_active ON jobs.steps (status) WHERE status IN ('running', 'stalled')",
    ),
    "events": (
        "ALTER TABLE jobs.events ADD PRIMARY KEY (id, at)",
        "CREATE INDEX events_at ON jobs.events (at)",
        "CREATE INDEX events_run ON jobs.events (run_id) WHERE run_id IS NOT NULL",
        "CREATE INDEX events_schedule_actions ON jobs.events (schedule, id) WHERE operator IS NOT NULL",
        "CREATE INDEX events_message ON jobs.events (message_id) WHERE message_id IS NOT NULL",
    ),
    "ticks": (
        "ALTER TABLE jobs.ticks ADD PRIMARY KEY (schedule, nominal_time)",
        "CREATE INDEX ticks_claimed ON jobs.ticks (claimed_at)",
    ),
    "barriers": ("ALTER TABLE jobs.barriers ADD PRIMARY KEY (run_id, step_index, run_started_at)",),
    "barrier_arrivals": (
        "ALTER TABLE jobs.barrier_arrivals ADD PRIMARY KEY (run_id, step_index, message_id, run_started_at)",
        "CREATE INDEX barrier_arrivals_failed ON jobs.barrier_arrivals (run_id, step_index, arrived_at) WHERE failed",
    ),
}

OLD_INDEXES = {
    "runs": (
        "ALTER TABLE jobs.runs ADD PRIMARY KEY (run_id)",
        "ALTER TABLE jobs.runs ADD CONSTRAINT runs_trigger_key_key UNIQUE (trigger_key)",
        "CREATE INDEX runs_job_started ON jobs.runs (job, started_at DESC)",
        "CREATE INDEX runs_running ON jobs.runs (job) WHERE status = 'running'",
        "CREATE INDEX runs_scheduled ON jobs.runs (job, nominal_time) WHERE trigger = 'schedule'",
        "CREATE INDEX runs_started ON jobs.runs (started_at DESC, run_id DESC)",
        "CREATE INDEX runs_status_started ON jobs.runs (status, started_at DESC, run_id DESC)",
    ),
    "steps": (
        "ALTER TABLE jobs.steps ADD PRIMARY KEY (message_id)",
        "CREATE INDEX steps_run ON jobs.steps (run_id)",
        "CREATE INDEX steps_active ON jobs.steps (status) WHERE status IN ('running', 'stalled')",
    ),
    "events": (
        "ALTER TABLE jobs.events ADD PRIMARY KEY (id)",
        "CREATE INDEX events_at ON jobs.events (at)",
        "CREATE INDEX events_run ON jobs.events (run_id) WHERE run_id IS NOT NULL",
        "CREATE INDEX events_schedule_actions ON jobs.events (schedule, id) WHERE operator IS NOT NULL",
        "CREATE UNIQUE INDEX events_replayed_once ON jobs.events (message_id) WHERE kind = 'replayed'",
        "CREATE INDEX events_message ON jobs.events (message_id) WHERE message_id IS NOT NULL",
    ),
    "ticks": (
        "ALTER TABLE jobs.ticks ADD PRIMARY KEY (schedule, nominal_time)",
        "CREATE INDEX ticks_claimed ON jobs.ticks (claimed_at)",
    ),
    "barriers": ("ALTER TABLE jobs.barriers ADD PRIMARY KEY (run_id, step_index)",),
    "barrier_arrivals": (
        "ALTER TABLE jobs.barrier_arrivals ADD PRIMARY KEY (run_id, step_index, message_id)",
        "CREATE INDEX barrier_arrivals_failed ON jobs.barrier_arrivals (run_id, step_index, arrived_at) WHERE failed",
    ),
}

ARCHIVES = (
    ("archive_runs", "runs", "started_at", "(run_id, started_at)", ()),
    ("archive_steps", "steps", "created_on", "(message_id, created_on)", ("(run_id)",)),
    ("archive_events", "events", "at", "(id, at)", ("(run_id) WHERE run_id IS NOT NULL", "(message_id)")),
)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _bound(day: date, kind: str) -> str:
    return f"'{day.isoformat()}'" if kind == "date" else f"'{day.isoformat()} 00:00:00+00'"


def _columns(table: str) -> list[str]:
    rows = op.get_bind().execute(
        text(
            "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum"
        ),
        {"t": f"jobs.{table}"},
    )
    return [r.attname for r in rows]


def upgrade() -> None:
    bind = op.get_bind()
    today = datetime.now(UTC).date()
    for table, key, kind, added, old_key in TABLES:
        old_columns = _columns(table)
        op.execute(f"ALTER TABLE jobs.{table} RENAME TO {table}_0008")
        op.execute(
            f"CREATE TABLE jobs.{table} (LIKE jobs.{table}_0008 INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
            + (f", {key} {kind} NOT NULL" if added else "")
            + f") PARTITION BY RANGE ({key})"
        )
        # The barriers' run: jobs.runs is partitioned by now, its started_at read from there.
        source = f"jobs.{table}_0008 t" + (" LEFT JOIN jobs.runs r ON r.run_id = t.run_id" if "r." in old_key else "")
        first = bind.execute(text(f"SELECT min({old_key}) FROM {source}")).scalar()
        if isinstance(first, datetime):
            first = first.astimezone(UTC).date()
        week = _monday(min(first or today, today))
        last = _monday(today) + timedelta(weeks=WEEKS_AHEAD)
        while week <= last:
            upper = week + timedelta(weeks=1)
            op.execute(
                f"CREATE TABLE jobs.{table}_p{week:%Y%m%d} PARTITION OF jobs.{table} "
                f"FOR VALUES FROM ({_bound(week, kind)}) TO ({_bound(upper, kind)})"
            )
            week = upper
        op.execute(f"CREATE TABLE jobs.{table}_default PARTITION OF jobs.{table} DEFAULT")
        names = ", ".join(old_columns)
        values = ", ".join(f"t.{c}" for c in old_columns)
        keyed = f", {key}" if added else ""
        value = f", {old_key}" if added else ""
        op.execute(f"INSERT INTO jobs.{table} ({names}{keyed}) SELECT {values}{value} FROM {source}")
        if table == "events":
            op.execute("ALTER SEQUENCE jobs.events_id_seq OWNED BY jobs.events.id")
        op.execute(f"DROP TABLE jobs.{table}_0008")
        for statement in NEW_INDEXES[table]:
            op.execute(statement)
        op.execute(f"ANALYZE jobs.{table}")
    # A dead letter is replayed once: the second replay's insert here conflicts.
    op.execute(
        "CREATE TABLE jobs.replays (message_id text PRIMARY KEY, event_id bigint NOT NULL, "
        "replayed_at timestamptz NOT NULL DEFAULT now())"
    )
    op.execute(
        "INSERT INTO jobs.replays (message_id, event_id, replayed_at) "
        "SELECT message_id, id, at FROM jobs.events WHERE kind = 'replayed' AND message_id IS NOT NULL"
    )
    for archive, source, key, primary, indexes in ARCHIVES:
        # Its months are created by the retention job as it archives into them.
        op.execute(
            f"CREATE TABLE jobs.{archive} (LIKE jobs.{source} INCLUDING DEFAULTS, "
            f"archived_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY {primary}) PARTITION BY RANGE ({key})"
        )
        for number, index in enumerate(indexes):
            op.execute(f"CREATE INDEX {archive}_{number} ON jobs.{archive} {index}")


def downgrade() -> None:
    """Back to unpartitioned tables; the archive (failures older than the retention) is dropped with it."""
    for archive, *_ in ARCHIVES:
        op.execute(f"DROP TABLE jobs.{archive}")
    op.execute("DROP TABLE jobs.replays")
    for table, key, _kind, added, _old in TABLES:
        columns = [c for c in _columns(table) if not (added and c == key)]
        op.execute(f"ALTER TABLE jobs.{table} RENAME TO {table}_0009")
        op.execute(f"CREATE TABLE jobs.{table} (LIKE jobs.{table}_0009 INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        if added:
            op.execute(f"ALTER TABLE jobs.{table} DROP COLUMN {key}")
        names = ", ".join(columns)
        # A message with rows on two days (see runtime.md) keeps its newest.
        distinct = "DISTINCT ON (message_id) " if key == "created_on" else ""
        order = " ORDER BY message_id, created_on DESC" if key == "created_on" else ""
        op.execute(f"INSERT INTO jobs.{table} ({names}) SELECT {distinct}{names} FROM jobs.{table}_0009{order}")
        if table == "events":
            op.execute("ALTER SEQUENCE jobs.events_id_seq OWNED BY jobs.events.id")
        op.execute(f"DROP TABLE jobs.{table}_0009")
        for statement in OLD_INDEXES[table]:
            op.execute(statement)
