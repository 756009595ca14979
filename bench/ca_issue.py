"""Benchmark (issue #4): issue N certificates through the embedded connector with
every record written — the checked request, the CA's ledger row, the
certificate, the request's transition and its audit record in the hash chain,
committed — and the same N through a bare ``cryptography`` signing loop with no
records: the limit. The embedded CA keeps its ledger in the same database, so
``ra.ca.jobs`` issues through it in one transaction per certificate, as the
handover does; a remote CA would get two. Prints certs/s for both and
``ratio`` = our time ÷ bare time (lower is better; target ≤ 2.0).

Also the *floor*: the bare loop plus one row per certificate committed durably
through the raw DB-API driver — what any system that records what it signed
pays at least. ``floor_over_bare`` says how much of the 2.0 budget the durable
commit alone takes; ``ratio_vs_floor`` = our time ÷ the floor's. The three take
turns, 100 certificates each, so the shared machine's load falls on all alike.

    python bench/ca_issue.py                    # SQLite file in a temp folder
    RA_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench python bench/ca_issue.py
    python bench/ca_issue.py --django-ca 100    # also the real django-ca peer, once

The last line of output is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from ra.profiles import DEFAULT_PROFILES, SubjectData, build_subject  # noqa: E402

HOLDER = SubjectData(latin_name="Batbayar Dorj", cyrillic_name="Батбаяр Дорж", register_number="УБ90010112",
                     organisation="Нийслэлийн Засаг даргын Тамгын газар", department="МТХ",
                     position="Ахлах мэргэжилтэн", email="batbayar@ub.gov.mn")


def make_csrs(n: int, pool: int = 40) -> list[bytes]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(pool)]
    return [x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"bench {i}")])).sign(keys[i % pool], hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM) for i in range(n)]


class Bare:
    """The limit: parse the CSR, build the same certificate, sign it with the same
    issuing key. Nothing checked, nothing kept."""

    def __init__(self, issuer_cert, issuer_key, base_url: str):
        from cryptography.x509.oid import AuthorityInformationAccessOID

        self.profile = DEFAULT_PROFILES["signing"]
        self.subject = build_subject(self.profile, HOLDER)
        self.issuer_cert, self.issuer_key = issuer_cert, issuer_key
        self.aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
            issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value)
        self.cdp = x509.CRLDistributionPoints([x509.DistributionPoint([x509.UniformResourceIdentifier(
            f"{base_url}/ca/crl/issuing-g1.crl")], None, None, None)])
        self.aia = x509.AuthorityInformationAccess([
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier(f"{base_url}/ocsp")),
            x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier(f"{base_url}/ca/issuing-g1.crt"))])

    def issue(self, pem: bytes) -> x509.Certificate:
        from cryptography.hazmat.primitives import hashes

        csr = x509.load_pem_x509_csr(pem)
        now = datetime.now(timezone.utc)
        profile = self.profile
        return (x509.CertificateBuilder().subject_name(self.subject).issuer_name(self.issuer_cert.subject)
                .public_key(csr.public_key()).serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + timedelta(days=profile.validity_days))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(profile.key_usage.extension(), critical=True)
                .add_extension(x509.ExtendedKeyUsage(list(profile.extended_key_usage)), critical=False)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
                .add_extension(self.aki, critical=False).add_extension(self.cdp, critical=False)
                .add_extension(self.aia, critical=False)
                .sign(self.issuer_key, hashes.SHA256()))

    def loop(self, csrs: list[bytes]) -> float:
        t0 = time.perf_counter()
        for pem in csrs:
            self.issue(pem)
        return time.perf_counter() - t0


class Floor:
    """What any durable record costs at least: the bare loop, plus one row per
    certificate (serial and DER) inserted and committed through the raw DB-API
    driver, no SQLAlchemy, on the same database with the same durability (SQLite
    WAL + synchronous=FULL as the app sets it; PostgreSQL's defaults)."""

    def __init__(self, bare: Bare, url: str):
        self.bare = bare
        if url.startswith("sqlite"):
            import sqlite3

            self.conn = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000"):
                self.conn.execute(f"PRAGMA {pragma}")
            self.mark = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True)
            self.mark = "%s"
        self.conn.execute("DROP TABLE IF EXISTS bench_floor")
        key, blob = ("INTEGER", "BLOB") if self.mark == "?" else ("SERIAL", "BYTEA")
        self.conn.execute(f"CREATE TABLE bench_floor (id {key} PRIMARY KEY, serial VARCHAR(42) UNIQUE, der {blob})")
        self.insert = f"INSERT INTO bench_floor (serial, der) VALUES ({self.mark}, {self.mark})"

    def loop(self, csrs: list[bytes]) -> float:
        t0 = time.perf_counter()
        for pem in csrs:
            cert = self.bare.issue(pem)
            self.conn.execute("BEGIN")
            self.conn.execute(self.insert, (format(cert.serial_number, "X"),
                                            cert.public_bytes(serialization.Encoding.DER)))
            self.conn.execute("COMMIT")
        return time.perf_counter() - t0

    def close(self):
        self.conn.execute("DROP TABLE bench_floor")
        self.conn.close()


def compare(csrs: list[bytes], url: str, instance: Path, keys: tuple[str, str] | None, chunk: int) -> dict:
    """Ours, bare and the floor take turns, ``chunk`` certificates each, so a
    change in the machine's load (it is shared) falls on all three alike."""
    from flask_migrate import upgrade

    from ra import create_app
    from ra.ca import jobs
    from ra.ca.keys import unseal
    from ra.ca.models import EmbeddedAuthority
    from ra.extensions import db

    config = {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance), "MAIL_URL": "file:",
              "SECRET_KEY": "bench-secret-" + "x" * 40}
    if keys:
        config["CA_EMBEDDED_KEYS"] = keys
    import logging
    app = create_app(config)
    logging.getLogger().setLevel(logging.WARNING)
    with app.app_context():
        upgrade(revision="heads")
        ports = app.extensions["ra.ports"]
        ports.ca.initialise(db.session, actor="bench")
        db.session.commit()
        issuing = db.session.query(EmbeddedAuthority).filter_by(name="issuing-g1").one()
        algorithm = issuing.key_algorithm
        bare = Bare(x509.load_pem_x509_certificate(issuing.certificate_pem.encode()),
                    unseal(ports.ca._wrapping, issuing.encrypted_key, issuing.name), ports.base_url)
        # End the read: outside a web request the app's SQLite transactions take
        # the write lock at BEGIN, and the floor's own connection creates a table.
        db.session.commit()
        floor = Floor(bare, url)
        run = os.urandom(4).hex()
        jobs.issue_certificate(db.session, "bench", csr=csrs[0], profile="signing", subject=HOLDER,
                               request_id=f"warmup-{run}", ports=ports)  # keys opened, caches warm
        bare.loop(csrs[:20])
        floor.loop(csrs[:20])
        times = {"ours": 0.0, "bare": 0.0, "floor": 0.0}
        for start in range(0, len(csrs), chunk):
            part = csrs[start:start + chunk]
            t0 = time.perf_counter()
            for i, pem in enumerate(part, start):
                outcome = jobs.issue_certificate(db.session, "bench", csr=pem, profile="signing", subject=HOLDER,
                                                 request_id=f"bench-{run}-{i}", ports=ports)
                assert outcome.certificate is not None
            times["ours"] += time.perf_counter() - t0
            times["bare"] += bare.loop(part)
            times["floor"] += floor.loop(part)
        floor.close()
        check_records(db.session, f"bench-{run}-", len(csrs))
        db.session.remove()
    return {**times, "issuing_key": algorithm}


def check_records(session, prefix: str, n: int) -> None:
    """Outside the timing: every certificate of the run left its records."""
    import sqlalchemy as sa

    from ra.audit.models import AuditRecord
    from ra.audit.service import verify
    from ra.ca.models import Certificate, CertificateRequest, EmbeddedIssued

    requests = sa.select(CertificateRequest.id).where(CertificateRequest.request_id.startswith(prefix),
                                                      CertificateRequest.status == "issued")
    counts = {
        "requests": session.scalar(sa.select(sa.func.count()).select_from(requests.subquery())),
        "certificates": session.scalar(sa.select(sa.func.count()).where(Certificate.request_pk.in_(requests))),
        "ledger": session.scalar(sa.select(sa.func.count()).where(EmbeddedIssued.request_id.startswith(prefix))),
        "audit": session.scalar(sa.select(sa.func.count()).where(
            AuditRecord.action == "certificate_request.issued", AuditRecord.object_type == "certificate_request",
            AuditRecord.object_id.in_(sa.select(sa.cast(CertificateRequest.id, sa.String))
                                      .where(CertificateRequest.request_id.startswith(prefix)))))}
    assert counts == dict.fromkeys(counts, n), counts
    assert verify(session).ok, "the audit chain does not verify"


def django_ca_rate(n: int, workdir: Path) -> dict:
    from ra.ca.django_ca import DjangoCAConnector
    from ra.ca.csr import as_recorded
    from tests.ca.peer import start_peer

    peer = start_peer(workdir / "django-ca")
    try:
        ca = DjangoCAConnector.from_url(peer.ra_ca[len("django-ca+"):], {})
        profile = DEFAULT_PROFILES["signing"]
        subject = as_recorded(build_subject(profile, HOLDER))  # as ra.ca.service sends it
        csrs = [x509.load_pem_x509_csr(p) for p in make_csrs(n, pool=n)]
        ca.chain()
        t0 = time.perf_counter()
        for i, csr in enumerate(csrs):
            assert ca.issue(csr, profile, f"dj-{i}", subject=subject).certificate
        elapsed = time.perf_counter() - t0
        return {"django_ca_certs": n, "django_ca_per_s": round(n / elapsed, 1), **peer.timings}
    finally:
        peer.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=100, help="certificates per turn (default 100)")
    parser.add_argument("--keys", help="root/issuing key algorithms, e.g. rsa4096/rsa2048 (default: rsa4096/rsa3072)")
    parser.add_argument("--django-ca", type=int, default=0, metavar="N", help="also issue N through django-ca")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ra-bench-"))
    url = os.environ.get("RA_DATABASE_URL") or f"sqlite:///{work / 'bench.sqlite3'}"
    keys = tuple(args.keys.split("/")) if args.keys else None
    csrs = make_csrs(args.n)
    t = compare(csrs, url, work / "instance", keys, args.chunk)
    n = args.n
    result = {
        "bench": "ca_issue", "certs": n, "database": url.split(":", 1)[0].split("+")[0],
        "issuing_key": t["issuing_key"], "ours_per_s": round(n / t["ours"], 1), "bare_per_s": round(n / t["bare"], 1),
        "floor_per_s": round(n / t["floor"], 1), "ours_s": round(t["ours"], 3), "bare_s": round(t["bare"], 3),
        "floor_s": round(t["floor"], 3), "floor_over_bare": round(t["floor"] / t["bare"], 2),
        "ratio": round(t["ours"] / t["bare"], 2), "ratio_vs_floor": round(t["ours"] / t["floor"], 2),
        "load_avg": round(os.getloadavg()[0], 2),
    }
    print(f"embedded connector with records: {result['ours_per_s']} certs/s; bare cryptography loop: "
          f"{result['bare_per_s']} certs/s; ratio {result['ratio']} (target <= 2.0). Bare loop + one durable "
          f"raw-driver commit each: {result['floor_per_s']} certs/s ({result['floor_over_bare']} x bare)")
    if args.django_ca:
        result.update(django_ca_rate(args.django_ca, work))
        print(f"django-ca over its REST API: {result['django_ca_per_s']} certs/s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
