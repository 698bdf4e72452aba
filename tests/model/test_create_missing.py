"""`wrls-actors db upgrade` creates the WRLS tables that are missing, and leaves the others alone."""

import subprocess
import sys

from sqlalchemy import create_engine, inspect, text

from tests.support import services as svc
from tests.support.processes import ROOT
from wrls_actors import model


def upgrade(env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wrls_actors", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_upgrade_creates_every_table_once_and_never_alters_an_existing_one(template_db):
    svc.require(5432, "PostgreSQL")
    name = svc.create_database()
    url = svc.database_url(name)
    env = {
        "WRLS_DATABASE_URL": url,
        "WRLS_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
        "WRLS_MESSAGE_KEY": "k" * 32,
        "PATH": "/usr/bin:/bin",
    }
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))
    try:
        with engine.begin() as connection:
            # A table that exists already, as another service made it (an extra column, no others).
            connection.execute(text("CREATE SCHEMA water"))
            connection.execute(text("CREATE TABLE water.regions (region_id uuid PRIMARY KEY, extra text)"))
        first = upgrade(env)
        assert first.returncode == 0, first.stderr
        second = upgrade(env)
        assert second.returncode == 0, second.stderr
        inspector = inspect(engine)
        for table in model.metadata.tables.values():
            assert inspector.has_table(table.name, schema=table.schema), table.fullname
        assert {c["name"] for c in inspector.get_columns("regions", schema="water")} == {"region_id", "extra"}
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("licences", schema="water")}
        assert ("licence_ref",) in uniques
        assert inspector.has_table("runs", schema="jobs")
        with engine.connect() as connection:
            # Reference rows go only into the tables the upgrade created, once.
            assert connection.execute(text("SELECT count(*) FROM water.regions")).scalar() == 0
            roles = connection.execute(text("SELECT name FROM crm_v2.roles ORDER BY name")).scalars().all()
            assert roles == sorted(model.reference.ROLES)
            reasons = connection.execute(text("SELECT description FROM water.change_reasons")).scalars().all()
            assert reasons == [model.reference.NALD_GAP]
    finally:
        engine.dispose()
        svc.drop_database(name)
