"""Token tests run on real SoftHSM2 with a fresh token directory per test, and
check the results independently with OpenSC's pkcs11-tool."""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import pytest

from ra.auth.roles import Role
from ra.extensions import db
from ra.tokens import stock_service
from ra.tokens.driver import Pkcs11TokenDriver
from ra.tokens.softhsm import SoftHSM
from tests.factories import make_staff

FACTORY_SO_PIN = "FACTORY-SO-1234"
TRANSPORT_PIN = "4815162342"


@pytest.fixture(scope="session", autouse=True)
def _tools_present():
    """The suite installs these; a missing one is a failure, never a skip."""
    for tool in ("softhsm2-util", "pkcs11-tool"):
        assert shutil.which(tool), f"{tool} is missing: apt-get install -y softhsm2 opensc"


@pytest.fixture
def hsm(tmp_path, monkeypatch) -> SoftHSM:
    softhsm = SoftHSM(tmp_path / "softhsm")
    monkeypatch.setenv("SOFTHSM2_CONF", str(softhsm.ensure()))  # restored after the test
    return softhsm


@pytest.fixture
def driver(app, hsm, monkeypatch) -> Pkcs11TokenDriver:
    """The app's token port, pointed at this test's SoftHSM2 token directory."""
    ports = app.extensions["ra.ports"]
    d = Pkcs11TokenDriver(ports.tokens.module_path, escrow=ports.tokens.escrow, softhsm=hsm)
    monkeypatch.setattr(ports, "tokens", d)
    return d


@pytest.fixture
def en(ctx):
    """Messages rendered in English outside a request (as the CLI does)."""
    from flask_babel import force_locale

    with force_locale("en"):
        yield


@dataclass
class Staff:
    officer: object
    admin: object
    manager: object
    auditor: object


@pytest.fixture
def staff(ctx, ports) -> Staff:
    return Staff(*(make_staff(db.session, ports, r) for r in (Role.RA_OFFICER, Role.ADMIN, Role.RA_MANAGER,
                                                                Role.AUDITOR)))


@pytest.fixture
def stock(ctx, ports, driver, hsm, staff):
    """``stock(n)``: n vendor-style SoftHSM2 tokens received as one batch with
    the factory SO PIN. Returns the batch."""
    def make(n: int = 1, *, so_pin: str | None = FACTORY_SO_PIN, model: str = "SoftHSM2 test"):
        serials = hsm.create_stock(n, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)
        driver.rescan()
        return stock_service.receive_batch(db.session, staff.admin, stock_service.BatchData(
            model=model, supplier="Test supplier", received_on=ports.clock.today(), serials="\n".join(serials),
            factory_so_pin=so_pin), ports=ports)
    return make


def pkcs11_tool(hsm: SoftHSM, module: str, *args: str) -> str:
    """OpenSC's pkcs11-tool on the same token directory: an independent reader."""
    done = subprocess.run(["pkcs11-tool", "--module", module, *args], env=hsm.env(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout
