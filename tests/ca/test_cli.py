"""``flask --app ra ca init|chain|check``."""
from __future__ import annotations

from cryptography import x509

from tests.ca.conftest import django_connector


def test_init_is_idempotent_and_chain_prints_pem(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["ca", "init"])
    assert result.exit_code == 0, result.output
    assert "exists already" in result.output and "root-g1" in result.output and "issuing-g1" in result.output
    chain = runner.invoke(args=["ca", "chain"])
    certs = x509.load_pem_x509_certificates(chain.output.encode())
    assert [c.subject.rfc4514_string() for c in certs] == [
        "CN=State Test Issuing CA,O=State Test PKI,C=MN", "CN=State Test Root CA,O=State Test PKI,C=MN"]


def test_check_reports_the_embedded_ca(app):
    result = app.test_cli_runner().invoke(args=["ca", "check"])
    assert result.exit_code == 0, result.output
    assert "CA embedded: OK" in result.output and "key opened" in result.output


def test_check_against_django_ca_and_an_unreachable_one(app, ports, peer, monkeypatch):
    monkeypatch.setattr(ports, "ca", django_connector(peer.ra_ca))
    result = app.test_cli_runner().invoke(args=["ca", "check"])
    assert result.exit_code == 0, result.output
    assert "CA django-ca: OK" in result.output and "State Peer Issuing CA" in result.output
    peer_url = peer.ra_ca.replace(f":{peer.port}/", ":9/")  # the discard port: nobody answers
    monkeypatch.setattr(ports, "ca", django_connector(peer_url.replace("retries=2", "retries=0")))
    result = app.test_cli_runner().invoke(args=["ca", "check"])
    assert result.exit_code == 1 and "NOT OK" in result.output
