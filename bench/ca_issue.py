"""Benchmark (issue #4): issue N certificates through the embedded connector with
every record written — the checked request, the CA's ledger row, the
certificate, the request's transition and its audit record in the hash chain,
committed — and the same N through a bare ``cryptography`` signing loop with no
records: the limit. The embedded CA keeps its ledger in the same database, so
``ra.ca.jobs`` issues through it in one transaction per certificate, as the
handover does; a remote CA would get two. Prints certs/s for both and
``ratio`` = our time ÷ bare time (lower is better; target ≤ 2.0).

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

HOLDER = SubjectData(latin_name="Batbayar Dorj", cyrillic_name="Батбаяр Дорж", register_number="UB90010112",
                     organisation="Нийслэлийн Засаг даргын Тамгын газар", department="МТХ",
                     position="Ахлах мэргэжилтэн", email="batbayar@ub.gov.mn")


def make_csrs(n: int, pool: int = 40) -> list[bytes]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(pool)]
    return [x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"bench {i}")])).sign(keys[i % pool], hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM) for i in range(n)]


def bare_loop(csrs: list[bytes], issuer_cert, issuer_key, base_url: str) -> float:
    """Parse the CSR, build the same certificate, sign it. Nothing checked, nothing kept."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import AuthorityInformationAccessOID

    profile = DEFAULT_PROFILES["signing"]
    subject = build_subject(profile, HOLDER)
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
        issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value)
    cdp = x509.CRLDistributionPoints([x509.DistributionPoint([x509.UniformResourceIdentifier(
        f"{base_url}/ca/crl/issuing-g1.crl")], None, None, None)])
    aia = x509.AuthorityInformationAccess([
        x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(f"{base_url}/ocsp")),
        x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                               x509.UniformResourceIdentifier(f"{base_url}/ca/issuing-g1.crt"))])
    t0 = time.perf_counter()
    for pem in csrs:
        csr = x509.load_pem_x509_csr(pem)
        now = datetime.now(timezone.utc)
        (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_cert.subject)
         .public_key(csr.public_key()).serial_number(x509.random_serial_number()).not_valid_before(now)
         .not_valid_after(now + timedelta(days=profile.validity_days))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(profile.key_usage.extension(), critical=True)
         .add_extension(x509.ExtendedKeyUsage(list(profile.extended_key_usage)), critical=False)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
         .add_extension(aki, critical=False).add_extension(cdp, critical=False).add_extension(aia, critical=False)
         .sign(issuer_key, hashes.SHA256()))
    return time.perf_counter() - t0


def through_the_app(csrs: list[bytes], url: str, instance: Path, keys: tuple[str, str] | None):
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
        issuer_key = unseal(ports.ca._wrapping, issuing.encrypted_key, issuing.name)
        issuer_cert = x509.load_pem_x509_certificate(issuing.certificate_pem.encode())
        algorithm = issuing.key_algorithm
        run = os.urandom(4).hex()
        jobs.issue_certificate(db.session, "bench", csr=csrs[0], profile="signing", subject=HOLDER,
                               request_id=f"warmup-{run}", ports=ports)  # keys opened, caches warm
        t0 = time.perf_counter()
        for i, pem in enumerate(csrs):
            outcome = jobs.issue_certificate(db.session, "bench", csr=pem, profile="signing", subject=HOLDER,
                                             request_id=f"bench-{run}-{i}", ports=ports)
            assert outcome.certificate is not None
        ours = time.perf_counter() - t0
        check_records(db.session, f"bench-{run}-", len(csrs))
        db.session.remove()
    return ours, issuer_cert, issuer_key, algorithm, ports.base_url


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
    parser.add_argument("--keys", help="root/issuing key algorithms, e.g. rsa4096/rsa2048 (default: rsa4096/rsa3072)")
    parser.add_argument("--django-ca", type=int, default=0, metavar="N", help="also issue N through django-ca")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ra-bench-"))
    url = os.environ.get("RA_DATABASE_URL") or f"sqlite:///{work / 'bench.sqlite3'}"
    keys = tuple(args.keys.split("/")) if args.keys else None
    csrs = make_csrs(args.n)
    ours, issuer_cert, issuer_key, algorithm, base_url = through_the_app(csrs, url, work / "instance", keys)
    bare = bare_loop(csrs, issuer_cert, issuer_key, base_url)
    result = {
        "bench": "ca_issue", "certs": args.n, "database": url.split(":", 1)[0].split("+")[0],
        "issuing_key": algorithm, "ours_per_s": round(args.n / ours, 1), "bare_per_s": round(args.n / bare, 1),
        "ours_s": round(ours, 3), "bare_s": round(bare, 3), "ratio": round(ours / bare, 2),
    }
    print(f"embedded connector with records: {result['ours_per_s']} certs/s; bare cryptography loop: "
          f"{result['bare_per_s']} certs/s; ratio {result['ratio']} (target <= 2.0)")
    if args.django_ca:
        result.update(django_ca_rate(args.django_ca, work))
        print(f"django-ca over its REST API: {result['django_ca_per_s']} certs/s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
