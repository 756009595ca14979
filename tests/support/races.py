"""Real races: an app on a database of its own whose requests commit for real (the
per-test outer transaction of ``tests/conftest.py`` would serialise everything on
one connection), and a helper that releases many threads at once."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

from tests.support.databases import drop_database, make_database


@contextmanager
def committed_app(db_kind: str, directory: Path, smtp_port: int, **config):
    from flask_migrate import upgrade

    from ra import create_app
    from ra.extensions import db
    from tests.conftest import app_config

    url = make_database(db_kind, directory)
    app = create_app(app_config(url, directory / "instance", smtp_port, **config))
    with app.app_context():
        upgrade(revision="heads")
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database(url)


def all_at_once(calls: list, timeout: float = 120) -> list:
    """Runs each callable in its own thread, all released by one barrier; returns
    their results (or the exception each raised) in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except BaseException as exc:  # reported to the test, which asserts on it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a racing request never finished"
    return results
