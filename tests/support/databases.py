"""Real databases for the suite: a SQLite file, or a fresh PostgreSQL database
created for this run on the server named by RA_TEST_PG_URL (default: the machine's
127.0.0.1:5432, trust auth, database `test`). Each run gets its own database so
concurrent runs never see each other's rows."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    return os.environ.get("RA_TEST_PG_URL") or DEFAULT_PG


def make_database(kind: str, directory: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{Path(directory) / f'ra-{uuid.uuid4().hex[:8]}.sqlite3'}"
    admin = make_url(admin_url())
    name = f"ra_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {admin.render_as_string(hide_password=True)}; "
            "scripts/test.sh starts a throwaway server when none runs") from exc
    finally:
        engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    u = make_url(url)
    if not u.drivername.startswith("postgresql"):
        return
    engine = sa.create_engine(make_url(admin_url()), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    finally:
        engine.dispose()
