import pytest

from ra.config import ConfigError, load_config


def test_a_short_secret_key_is_refused_at_start_up(tmp_path):
    with pytest.raises(ConfigError, match="RA_SECRET_KEY"):
        load_config(environ={"RA_SECRET_KEY": "short", "RA_INSTANCE_PATH": str(tmp_path)})


def test_an_unsupported_database_is_named(tmp_path):
    with pytest.raises(ConfigError, match="RA_DATABASE_URL"):
        load_config(environ={"RA_DATABASE_URL": "mysql://x/y", "RA_INSTANCE_PATH": str(tmp_path)})


def test_a_bad_mail_url_is_named(tmp_path):
    with pytest.raises(ConfigError, match="RA_MAIL_URL"):
        load_config(environ={"RA_MAIL_URL": "carrier-pigeon://x", "RA_INSTANCE_PATH": str(tmp_path)})


def test_defaults_are_sqlite_under_the_instance_and_a_kept_secret(tmp_path):
    env = {"RA_INSTANCE_PATH": str(tmp_path)}
    cfg = load_config(environ=env)
    assert cfg["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'ra.sqlite3'}"
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # readable by the owner only
    assert load_config(environ=env)["SECRET_KEY"] == cfg["SECRET_KEY"]  # stable across restarts


def test_services_never_import_flask():
    """STYLE rule 1: a service is callable from web, CLI, API and worker alike."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "ra"
    offenders = [str(p.relative_to(root)) for p in root.glob("**/service*.py")
                 if re.search(r"^\s*(from flask|import flask)", p.read_text(), re.M)]
    assert offenders == []
