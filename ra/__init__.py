"""``ra`` — the back office of a Registration Unit in a national PKI."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the holder's `ra-token` command imports `ra` without Flask
    from flask import Flask


def create_app(config: dict | None = None) -> Flask:
    from flask import Flask

    from ra.config import load_config

    # The instance folder holds the database, ID scans, mail with one-time codes and
    # keys: nothing the app writes is for other local users (ASVS 14.3, 8.3).
    # Set before anything (the secret key, SQLite's WAL) is created.
    os.umask(0o077)
    cfg = load_config(config)
    app = Flask(__name__, instance_path=cfg["INSTANCE_PATH"], instance_relative_config=False)
    app.config.update(cfg)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    os.chmod(app.instance_path, 0o700)  # an instance made before the umask was set
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("weasyprint", "fontTools", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from ra.web import BoundedInt
    app.url_map.converters["int"] = BoundedInt  # before any route is added

    _init_extensions(app)
    _init_ports(app)
    _register_blueprints(app)

    from ra import localtime, web
    web.init_app(app)
    localtime.init_app(app)

    from ra.cli import register_cli
    register_cli(app)

    from ra import proxies
    proxies.install(app, app.config.get("TRUSTED_PROXIES"))
    return app


def _init_extensions(app: Flask) -> None:
    from sqlalchemy import event

    from ra.auth.session import init_login
    from ra.extensions import babel, csrf, db, migrate
    from ra.i18n import compile_catalogs, select_locale, translation_directories

    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            _tune_sqlite(db.engine, event)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    compile_catalogs(Path(app.root_path))
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=";".join(translation_directories(Path(app.root_path))))
    init_login(app)
    _import_models()


def _tune_sqlite(engine, event) -> None:
    """Foreign keys on, WAL, a busy timeout, and transactions that pysqlite leaves to
    SQLAlchemy so SAVEPOINTs work (SQLAlchemy's documented pysqlite recipe).

    Writing transactions begin IMMEDIATE: a deferred one that has read and then
    writes after another writer committed fails at once with "database is locked"
    (SQLite does not call the busy handler for a reader's upgrade, since waiting
    could not help), so concurrent requests would get 500s. Taking the write lock
    at BEGIN makes them queue on the busy timeout instead. Page reads (GET) stay
    deferred so that they never wait for a writer (WAL)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN" if _reading_request() else "BEGIN IMMEDIATE")


def _reading_request() -> bool:
    from flask import has_request_context, request
    return has_request_context() and request.method in ("GET", "HEAD", "OPTIONS")


def _import_models() -> None:
    # Every model must be imported for Alembic and for relationship resolution.
    import ra.audit.models  # noqa: F401
    import ra.auth.models  # noqa: F401
    import ra.ca.models  # noqa: F401
    import ra.enrollment.models  # noqa: F401
    import ra.enrollment.holder_models  # noqa: F401
    import ra.mail.models  # noqa: F401
    import ra.tokens.models  # noqa: F401
    import ra.tokens.unblock_models  # noqa: F401
    import ra.tokens.handover_models  # noqa: F401
    import ra.revocation.models  # noqa: F401
    import ra.reports.models  # noqa: F401  (the token rollup; the report queries' indexes)
    import ra.holder.models  # noqa: F401


def _init_ports(app: Flask) -> None:
    from ra.ca.connector import build_connector
    from ra.documents import DocumentRenderer
    from ra.mail.notify import Notifier
    from ra.ports import build_ports
    from ra.tokens.driver import Pkcs11TokenDriver

    ports = build_ports(app.config)
    ports.documents = DocumentRenderer(app)
    ports.notifier = Notifier(app, ports)
    ports.tokens = Pkcs11TokenDriver.from_config(app.config)  # loads the PKCS#11 module on first use
    ports.ca = build_connector(app.config, ports)  # cheap: keys load on first use
    app.extensions["ra.ports"] = ports


def _register_blueprints(app: Flask) -> None:
    from ra.api import bp as api_bp
    from ra.audit.views import bp as audit_bp
    from ra.auth.views import bp as auth_bp
    from ra.ca.views import bp as ca_bp
    from ra.enrollment.api import register_api as register_enrollment_api
    from ra.enrollment.holder_api import register_api as register_holder_api
    from ra.enrollment.views import bp as enrollment_bp
    import ra.enrollment.holder_views  # noqa: F401  (adds its routes to enrollment_bp)
    from ra.main import bp as main_bp
    from ra.tokens.views import bp as tokens_bp
    import ra.tokens.unblock_views  # noqa: F401  (adds the unblock pages to tokens_bp)
    from ra.tokens.unblock_api import register_api as register_unblock_api
    from ra.tokens.handover_api import register_api as register_handover_api
    from ra.reports.api import register_api as register_reports_api
    from ra.reports.views import bp as reports_bp

    from ra.revocation.wiring import init_app as init_revocation
    init_revocation(app, api_bp)  # its pages, API routes (before api_bp registers), CLI, token/position hooks

    # Blueprints are module-level; a second app in the same process (tests, the
    # live server) must not add their routes again.
    if not api_bp._got_registered_once:
        register_enrollment_api(api_bp)
        register_holder_api(api_bp)
        register_handover_api(api_bp)
        register_reports_api(api_bp)
        register_unblock_api(api_bp)
    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(enrollment_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(ca_bp)
    app.register_blueprint(tokens_bp)
    app.register_blueprint(reports_bp)

    from ra.holder import init_app as init_holder
    init_holder(app)
