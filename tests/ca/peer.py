"""django-ca, a CA written by others, run on loopback for the connector tests and
the benchmark: its own virtualenv (django-ca pins Django and a newer
``cryptography`` than the app's), SQLite with IMMEDIATE transactions, a cheap
password hasher for the API user, a root and an issuing CA, gunicorn over TLS.
Started once per test session; stopped by PID."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DJANGO_CA = "django-ca[api]==3.2.0"
# django-ca 3.2's generate_crls imports celery even when CA_USE_CELERY is off.
PEER_PACKAGES = (DJANGO_CA, "gunicorn", "celery")
HERE = Path(__file__).resolve().parent
VENV = Path(os.environ.get("RA_DJANGO_CA_VENV") or Path.home() / ".cache" / "ra" / "django-ca-venv")


def ensure_venv() -> Path:
    """The peer's Python, installing django-ca with pip on first use."""
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import django_ca, gunicorn, celery"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return python


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway TLS CA and a server certificate for 127.0.0.1."""
    now = datetime.now(timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "peer TLS test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
          .not_valid_after(now + timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "tls-ca.pem", directory / "tls-cert.pem", directory / "tls-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@dataclass
class Peer:
    data: Path
    python: Path
    port: int
    issuing: str
    root: str
    issuing_pem: str
    root_pem: str
    cafile: Path
    certfile: Path | None = None
    keyfile: Path | None = None
    username: str = "ra-connector"
    password: str = "peer-api-password"
    pid: int | None = None
    timings: dict = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/django_ca/api"

    @property
    def ra_ca(self) -> str:
        """The RA_CA string for this peer."""
        return (f"django-ca+https://{self.username}:{self.password}@127.0.0.1:{self.port}/django_ca/api"
                f"?ca={self.issuing}&cafile={self.cafile}&timeout=60&retries=2&grace=30")

    def env(self) -> dict:
        return {**os.environ, "PEER_DATA": str(self.data), "PEER_HOSTNAME": f"127.0.0.1:{self.port}",
                "DJANGO_SETTINGS_MODULE": "django_ca_peer.settings", "PYTHONPATH": str(HERE)}

    def manage(self, *args: str) -> str:
        return subprocess.run([str(self.python), "-m", "django", *args], env=self.env(), check=True,
                              capture_output=True, text=True).stdout

    def regenerate_crls(self) -> None:
        """django-ca serves a stored CRL; after a revocation it must be rebuilt."""
        self.manage("generate_crls", "--force")

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.api_url}{path}", auth=(self.username, self.password), verify=str(self.cafile),
                            timeout=60)

    def certificates(self) -> list[dict]:
        return self.get(f"/ca/{self.issuing}/certs/?expired=true&revoked=true").json()

    def stop(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGTERM)
                for _ in range(100):
                    os.kill(self.pid, 0)
                    time.sleep(0.05)
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None


def start_peer(data: Path, workers: int = 2) -> Peer:
    data.mkdir(parents=True, exist_ok=True)
    python = ensure_venv()
    port = _free_port()
    cafile, certfile, keyfile = _tls_files(data)
    peer = Peer(data, python, port, "", "", "", "", cafile)
    peer.certfile, peer.keyfile = certfile, keyfile
    t0 = time.monotonic()
    out = subprocess.run([str(python), str(HERE / "django_ca_peer" / "setup_peer.py"), peer.username, peer.password],
                         env=peer.env(), check=True, capture_output=True, text=True).stdout
    info = json.loads(out.strip().splitlines()[-1])
    peer.issuing, peer.root, peer.issuing_pem, peer.root_pem = (info["issuing"], info["root"], info["issuing_pem"],
                                                                info["root_pem"])
    peer.timings["setup_s"] = round(time.monotonic() - t0, 2)
    t0 = time.monotonic()
    log = open(data / "gunicorn.log", "ab")
    proc = subprocess.Popen(
        [str(python), "-m", "gunicorn", "django.core.wsgi:get_wsgi_application()", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--certfile", str(certfile), "--keyfile", str(keyfile), "--timeout", "30"],
        env=peer.env(), stdout=log, stderr=log, cwd=str(data), start_new_session=True)
    peer.pid = proc.pid
    # Ends as soon as django-ca answers; the limit only stops a peer that never will.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"django-ca did not start; see {data / 'gunicorn.log'}")
        try:
            if peer.get(f"/ca/{peer.issuing}/").status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.05)
    else:
        peer.stop()
        raise RuntimeError(f"django-ca did not answer; see {data / 'gunicorn.log'}")
    peer.timings["start_s"] = round(time.monotonic() - t0, 2)
    return peer
