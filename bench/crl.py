"""Benchmark (issue #6): the embedded CA's CRL with 100,000 revoked entries, made
the way the RU makes it after every revocation (``EmbeddedCA.crl``: read the DER
entries cached per revocation, assemble the TBSCertList, sign with the issuing
CA's RSA-3072 key, store it with its number), against ``openssl ca -gencrl``
from an equivalent index (the same serials, revocation dates, reasons and
invalidity dates; even-length hex serials in ``index.txt``), same key, same run.
Then OCSP: responses per second for single requests, POSTed one at a time to
``/ocsp`` (request parsing, ledger lookup, signed response).

    python bench/crl.py                       # SQLite file in a temp folder
    RA_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/ra_bench_crl python bench/crl.py
    python bench/crl.py --entries 10000 --ocsp 500

Prints both CRL times (median of ``--runs``), the ratio ours ÷ openssl (target
≤ 1.0), and OCSP responses/s. The last line of output is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REASONS = ("keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "certificateHold")


def _app(instance: Path):
    from ra import create_app

    config = {"INSTANCE_PATH": str(instance), "SECRET_KEY": "bench-" + "x" * 40, "MAIL_URL": "file:",
              "ARGON2": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}}
    url = os.environ.get("RA_DATABASE_URL")
    if url:
        _fresh_postgres(url)
        config["SQLALCHEMY_DATABASE_URI"] = url
    return create_app(config)


def _fresh_postgres(url: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    u = make_url(url)
    admin = sa.create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{u.database}"')
    admin.dispose()


def _entries(n: int, now: datetime) -> list[dict]:
    rng = random.Random(6)
    rows, seen = [], set()
    while len(rows) < n:
        serial = rng.getrandbits(159) | (1 << 100)
        if serial in seen:
            continue
        seen.add(serial)
        reason = REASONS[len(rows) % len(REASONS)]
        revoked = (now - timedelta(seconds=rng.randrange(1, 86400 * 365))).replace(microsecond=0)
        invalid = (revoked - timedelta(hours=rng.randrange(1, 72))) if reason == "keyCompromise" else None
        rows.append({"serial": serial, "reason": reason, "revoked_at": revoked, "invalidity_date": invalid})
    return rows


def fill_ledger(db, authority_id: int, entries: list[dict], now: datetime) -> float:
    """The ledger as 100,000 revocations leave it: each entry encoded once, when it
    was revoked. Returns the encoding time per entry (paid at revocation time)."""
    from ra.ca.csr import serial_hex
    from ra.ca.models import EmbeddedIssued
    from ra.revocation.crl_der import entry_of

    table = EmbeddedIssued.__table__
    encode = 0.0
    batch = []
    for i, e in enumerate(entries):
        text = serial_hex(e["serial"])
        t0 = time.perf_counter()
        der = entry_of(text, e["revoked_at"], e["reason"], e["invalidity_date"])
        encode += time.perf_counter() - t0
        batch.append({"authority_id": authority_id, "serial": text, "request_id": f"bench-{i}",
                      "public_key_sha256": "0" * 64, "certificate_der": b"\x30\x00",
                      "not_after": now + timedelta(days=365), "revoked_at": e["revoked_at"], "reason": e["reason"],
                      "invalidity_date": e["invalidity_date"], "crl_entry": der, "created_at": now})
        if len(batch) == 5000:
            db.session.execute(table.insert(), batch)
            batch.clear()
    if batch:
        db.session.execute(table.insert(), batch)
    db.session.commit()
    return encode / len(entries)


def time_ours(app, runs: int) -> tuple[list[float], bytes]:
    """``publish(force=True)``: a new CRL number, the CRL built from the cached
    entries, signed, stored on the CA's row and committed — what every revocation
    triggers."""
    from ra.extensions import db
    from ra.revocation import publication

    ports = app.extensions["ra.ports"]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        publication.publish(db.session, ports, "issuing-g1", force=True)
        db.session.commit()
        times.append(time.perf_counter() - t0)
    from ra.ca.models import EmbeddedAuthority
    import sqlalchemy as sa
    der = db.session.execute(sa.select(EmbeddedAuthority.crl_der).where(EmbeddedAuthority.name == "issuing-g1")
                             ).scalar_one()
    return times, der


def _utc(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%y%m%d%H%M%SZ")


def openssl_dir(directory: Path, cert, key, entries: list[dict], now: datetime) -> Path:
    """An ``openssl ca`` folder whose index.txt revokes the same certificates."""
    from cryptography.hazmat.primitives import serialization

    from ra.ca.csr import serial_hex

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "ca.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    (directory / "ca.key").chmod(0o600)
    expiry = _utc(now + timedelta(days=365))
    lines = []
    for e in entries:
        rev = _utc(e["revoked_at"])
        if e["invalidity_date"] is not None:  # keyCompromise with its compromise time (openssl: keyTime)
            info = f"{rev},keyTime,{e['invalidity_date'].astimezone(timezone.utc):%Y%m%d%H%M%SZ}"
        else:
            info = f"{rev},{e['reason']}"
        lines.append(f"R\t{expiry}\t{info}\t{serial_hex(e['serial'])}\tunknown\t/CN=bench")
    (directory / "index.txt").write_text("\n".join(lines) + "\n")
    (directory / "index.txt.attr").write_text("unique_subject = no\n")
    (directory / "crlnumber").write_text("1000\n")
    (directory / "openssl.cnf").write_text(f"""
[ ca ]
default_ca = bench
[ bench ]
dir = {directory}
database = $dir/index.txt
crlnumber = $dir/crlnumber
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
default_crl_hours = 24
unique_subject = no
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid:always
""")
    return directory


def time_openssl(directory: Path, runs: int) -> tuple[list[float], bytes]:
    times = []
    out = directory / "crl.der"
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(["openssl", "ca", "-gencrl", "-config", str(directory / "openssl.cnf"), "-out",
                        str(directory / "crl.pem"), "-batch"], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    subprocess.run(["openssl", "crl", "-in", str(directory / "crl.pem"), "-outform", "DER", "-out", str(out)],
                   check=True, capture_output=True)
    return times, out.read_bytes()


def same_content(ours: bytes, theirs: bytes, issuer) -> dict:
    """Both list the same serials with the same reasons and invalidity dates."""
    from cryptography import x509

    from ra.revocation.publication import entry_invalidity, entry_reason

    a, b = x509.load_der_x509_crl(ours), x509.load_der_x509_crl(theirs)
    assert a.is_signature_valid(issuer.public_key()) and b.is_signature_valid(issuer.public_key())

    def facts(crl):
        return {e.serial_number: (entry_reason(e), e.revocation_date_utc, entry_invalidity(e)) for e in crl}
    fa, fb = facts(a), facts(b)
    assert fa == fb, "the two CRLs differ"
    return {"entries": len(fa), "ours_bytes": len(ours), "openssl_bytes": len(theirs)}


def time_ocsp(app, entries: list[dict], n: int) -> float:
    """Single OCSP requests, one after the other, through the app's /ocsp."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    ports = app.extensions["ra.ports"]
    with app.app_context():
        issuing = ports.ca.chain()[0]
    client = app.test_client()
    name_hash = hashes.Hash(hashes.SHA1())
    name_hash.update(issuing.subject.public_bytes())
    spki = issuing.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    key_hash = hashes.Hash(hashes.SHA1())
    key_hash.update(spki)
    nh, kh = name_hash.finalize(), key_hash.finalize()
    rng = random.Random(7)
    bodies = [ocsp.OCSPRequestBuilder().add_certificate_by_hash(nh, kh, rng.choice(entries)["serial"], hashes.SHA1())
              .build().public_bytes(serialization.Encoding.DER) for _ in range(n)]
    first = client.post("/ocsp", data=bodies[0], headers={"Content-Type": "application/ocsp-request"})
    answer = ocsp.load_der_ocsp_response(first.data)
    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    t0 = time.perf_counter()
    for body in bodies:
        resp = client.post("/ocsp", data=body, headers={"Content-Type": "application/ocsp-request"})
        assert resp.status_code == 200
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ocsp", type=int, default=2000, help="OCSP requests to time")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from ra.extensions import db

    with tempfile.TemporaryDirectory(prefix="ra-bench-crl-") as tmp:
        tmp = Path(tmp)
        app = _app(tmp / "instance")
        now = datetime.now(timezone.utc).replace(microsecond=0)
        entries = _entries(args.entries, now)
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"), revision="heads")
            ca = app.extensions["ra.ports"].ca
            ca.initialise(db.session, actor="bench")
            db.session.commit()
            loaded = ca._current_issuing(db.session)
            encode_per_entry = fill_ledger(db, loaded.id, entries, now)
            ours_times, ours_der = time_ours(app, args.runs)
            key, cert = loaded.template.issuer_key, loaded.chain[0]
            algorithm = type(key).__name__
        directory = openssl_dir(tmp / "openssl-ca", cert, key, entries, now)
        openssl_times, openssl_der = time_openssl(directory, args.runs)
        content = same_content(ours_der, openssl_der, cert)
        ocsp_rate = time_ocsp(app, entries, args.ocsp) if args.ocsp else None
        ours, theirs = statistics.median(ours_times), statistics.median(openssl_times)
        version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
        db_kind = app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0].split("+")[0]
        print(f"CRL with {content['entries']:,} entries, issuing key {algorithm} ({db_kind})")
        print(f"  ours (EmbeddedCA.crl from cached DER entries, stored, committed): "
              f"{', '.join(f'{t:.3f}' for t in ours_times)} s  → median {ours:.3f} s, {content['ours_bytes']:,} bytes")
        print(f"  openssl ca -gencrl ({version}): {', '.join(f'{t:.3f}' for t in openssl_times)} s  → median "
              f"{theirs:.3f} s, {content['openssl_bytes']:,} bytes")
        print(f"  ratio ours ÷ openssl: {ours / theirs:.2f} (target ≤ 1.0); both list the same serials, reasons "
              f"and invalidity dates")
        print(f"  entry encoding, paid once at each revocation: {encode_per_entry * 1e6:.1f} µs")
        if ocsp_rate:
            print(f"  OCSP: {ocsp_rate:.0f} responses/s for single requests (POST /ocsp, one at a time)")
        print(json.dumps({"bench": "crl", "entries": content["entries"], "db": db_kind, "key": algorithm,
                          "ours_s": round(ours, 4), "openssl_s": round(theirs, 4), "ratio": round(ours / theirs, 3),
                          "ours_runs": [round(t, 4) for t in ours_times],
                          "openssl_runs": [round(t, 4) for t in openssl_times],
                          "encode_entry_us": round(encode_per_entry * 1e6, 2),
                          "ocsp_per_s": round(ocsp_rate, 1) if ocsp_rate else None, "openssl": version}))
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
