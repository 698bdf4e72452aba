"""The run ledger: runs, steps, ticks, barriers, events and counters.

Revision ID: 0001
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DDL = """
CREATE TABLE jobs.runs (
    run_id          uuid PRIMARY KEY,
    job             text NOT NULL,
    trigger         text NOT NULL CHECK (trigger IN ('schedule', 'cli', 'message', 'http')),
    trigger_key     text UNIQUE,
    nominal_time    timestamptz,
    params          jsonb NOT NULL DEFAULT '{}',
    status          text NOT NULL,
    step_index      integer NOT NULL DEFAULT 0,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    counts          jsonb NOT NULL DEFAULT '{}',
    children_failed integer NOT NULL DEFAULT 0,
    error           text
);
CREATE INDEX runs_job_started ON jobs.runs (job, started_at DESC);
CREATE INDEX runs_running ON jobs.runs (job) WHERE status = 'running';

-- One row per message id: retries keep the id, so a row is the message's whole life.
-- (attempt, deliveries, rank) orders events from several processes: an older
-- event never overwrites a newer one.
CREATE TABLE jobs.steps (
    message_id    text PRIMARY KEY,
    run_id        uuid,
    actor         text NOT NULL,
    queue         text NOT NULL,
    attempt       integer NOT NULL DEFAULT 1,
    deliveries    integer NOT NULL DEFAULT 0,
    rank          smallint NOT NULL DEFAULT 0,
    status        text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'retrying', 'failed',
                                               'timed-out', 'stalled', 'skipped', 'dead-lettered')),
    enqueued_at   timestamptz,
    started_at    timestamptz,
    heartbeat_at  timestamptz,
    finished_at   timestamptz,
    duration_ms   double precision,
    time_limit_ms integer,
    stalls        integer NOT NULL DEFAULT 0,
    timeouts      integer NOT NULL DEFAULT 0,
    error         text
);
CREATE INDEX steps_run ON jobs.steps (run_id);
CREATE INDEX steps_active ON jobs.steps (status) WHERE status IN ('running', 'stalled');

CREATE TABLE jobs.ticks (
    schedule     text NOT NULL,
    nominal_time timestamptz NOT NULL,
    outcome      text NOT NULL,
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    lag_s        double precision,
    run_id       uuid,
    message_id   text,
    duplicates   integer NOT NULL DEFAULT 0,
    detail       text,
    PRIMARY KEY (schedule, nominal_time)
);
CREATE INDEX ticks_claimed ON jobs.ticks (claimed_at);

CREATE TABLE jobs.barriers (
    run_id     uuid NOT NULL,
    step_index integer NOT NULL,
    expected   integer NOT NULL,
    arrived    integer NOT NULL DEFAULT 0,
    failed     integer NOT NULL DEFAULT 0,
    counts     jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    fired_at   timestamptz,
    PRIMARY KEY (run_id, step_index)
);

CREATE TABLE jobs.barrier_arrivals (
    run_id     uuid NOT NULL,
    step_index integer NOT NULL,
    message_id text NOT NULL,
    failed     boolean NOT NULL,
    counts     jsonb NOT NULL DEFAULT '{}',
    arrived_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, step_index, message_id)
);

-- What went wrong, append-only: the failure report reads it by time.
CREATE TABLE jobs.events (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    kind       text NOT NULL,
    job        text,
    actor      text,
    queue      text,
    schedule   text,
    run_id     uuid,
    message_id text,
    detail     text
);
CREATE INDEX events_at ON jobs.events (at);

-- Monotonic totals for the exporter, bumped in the same transaction as the
-- change they count, so several worker processes add up exactly.
CREATE TABLE jobs.counters (
    name   text NOT NULL,
    labels jsonb NOT NULL,
    value  double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (name, labels)
);

CREATE FUNCTION jobs.jsonb_add(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(key, value), '{}'::jsonb) FROM (
        SELECT key, to_jsonb(sum(value::numeric)) AS value
        FROM (SELECT * FROM jsonb_each_text(coalesce(a, '{}')) UNION ALL SELECT * FROM jsonb_each_text(coalesce(b, '{}'))) kv
        GROUP BY key
    ) summed
$$;
"""


def upgrade() -> None:
    op.execute(DDL)


def downgrade() -> None:
    op.execute("DROP SCHEMA jobs CASCADE")
