"""Run once by the fixture with django-ca's Python: migrate, create a root and an
issuing CA (C=MN), create the API user, and print what the tests need as JSON."""
import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_ca_peer.settings")
django.setup()

from django.core.management import call_command  # noqa: E402

from django_ca.api.utils import create_api_user  # noqa: E402
from django_ca.models import CertificateAuthority  # noqa: E402

username, password = sys.argv[1], sys.argv[2]
call_command("migrate", verbosity=0)
if not CertificateAuthority.objects.exists():
    call_command("init_ca", "State Peer Root", "C=MN,O=State Peer PKI,CN=State Peer Root CA",
                 "--key-type", "RSA", "--key-size", "2048", "--path-length", "1", "--api-enable")
    root = CertificateAuthority.objects.get(name="State Peer Root")
    call_command("init_ca", "State Peer Issuing", "C=MN,O=State Peer PKI,CN=State Peer Issuing CA",
                 "--key-type", "RSA", "--key-size", "2048", "--parent", root.serial, "--api-enable")
    create_api_user(username, password)
issuing = CertificateAuthority.objects.get(name="State Peer Issuing")
root = CertificateAuthority.objects.get(name="State Peer Root")
print(json.dumps({"issuing": issuing.serial, "root": root.serial,
                  "issuing_pem": issuing.pub.pem, "root_pem": root.pub.pem}))
