"""What the RU publishes for relying parties, without login (RFC 5280 §4.2.1.13,
§4.2.2.1): the CA certificates (DER, RFC 2585 ``application/pkix-cert``), the chain
as PEM and as a certs-only PKCS#7 (DER), and the current CRLs (DER,
``application/pkix-crl``). The URLs are the ones the embedded CA writes into
every certificate; ``/ocsp`` is reserved for the OCSP responder (issue #6)."""
from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from flask import Blueprint, Response, current_app

from ra.db import commit
from ra.errors import NotFound
from ra.extensions import db

bp = Blueprint("ca", __name__, url_prefix="/ca")


def _ca():
    return current_app.extensions["ra.ports"].ca


def _public(body: bytes, mimetype: str, filename: str, max_age: int = 3600) -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["Cache-Control"] = f"public, max-age={max_age}"
    return resp


@bp.route("/chain.pem")
def chain_pem():
    body = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in _ca().chain())
    commit()  # the embedded CA is created on first use
    return _public(body, "application/pem-certificate-chain", "chain.pem")


@bp.route("/chain.p7c")
def chain_der():
    body = pkcs7.serialize_certificates(_ca().chain(), serialization.Encoding.DER)
    commit()
    return _public(body, "application/pkcs7-mime", "chain.p7c")


@bp.route("/<name>.crt")
def authority_certificate(name: str):
    for authority in _ca().authorities():
        if authority.name == name:
            commit()
            return _public(authority.certificate.public_bytes(serialization.Encoding.DER),
                           "application/pkix-cert", f"{name}.crt")
    raise NotFound()


@bp.route("/crl/<name>.crl")
def current_crl(name: str):
    crl = _ca().crl(name)
    commit(db.session)  # a CRL built now is kept, with its number
    # Caches must not outlive a fresh revocation by long (DESIGN §3.4).
    return _public(crl.public_bytes(serialization.Encoding.DER), "application/pkix-crl", f"{name}.crl", max_age=300)
