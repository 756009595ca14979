from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from ra.enrollment import register_number as rn
from ra.profiles import DEFAULT_PROFILES, SubjectData, build_subject, certificate_name


def test_subject_carries_the_register_number_as_an_etsi_semantics_identifier():
    s = SubjectData(latin_name="Bolormaa Batbayar", cyrillic_name="Болормаа Батбаяр", register_number="ӨҮ99032512",
                    organisation="Сүхбаатар дүүргийн ЗДТГ", department="Мэдээллийн технологи", position="Мэргэжилтэн",
                    email="bolormaa@sbd.gov.mn")
    name = build_subject(DEFAULT_PROFILES["signing"], s)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    parsed = x509.load_pem_x509_csr(csr.public_bytes(serialization.Encoding.PEM))
    serial = parsed.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0]
    assert serial.value == "PNOMN-OEUE99032512" and serial._type == _ASN1Type.PrintableString
    assert rn.from_ascii(serial.value) == "ӨҮ99032512"  # the RU's own record stays Cyrillic
    assert parsed.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "MN"
    assert parsed.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Bolormaa Batbayar"
    assert parsed.subject.get_attributes_for_oid(NameOID.GIVEN_NAME)[0].value == "Bolormaa"
    assert parsed.subject.get_attributes_for_oid(NameOID.SURNAME)[0].value == "Batbayar"
    assert parsed.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Сүхбаатар дүүргийн ЗДТГ"
    # The e-mail goes to the subjectAltName; the DN keeps it only if a profile asks.
    assert not certificate_name(DEFAULT_PROFILES["signing"], name).get_attributes_for_oid(NameOID.EMAIL_ADDRESS)


def test_the_ascii_table_keeps_every_letter_and_every_pair_distinct():
    assert rn.ASCII_LETTERS["Ө"] == "OE" and rn.ASCII_LETTERS["О"] == "O"
    assert rn.ASCII_LETTERS["Ү"] == "UE" and rn.ASCII_LETTERS["У"] == "U"
    assert len(set(rn.ASCII_LETTERS.values())) == len(rn.CYRILLIC_CAPITALS) == 35
    pairs = {}
    for a in rn.CYRILLIC_CAPITALS:
        for b in rn.CYRILLIC_CAPITALS:
            ascii_form = rn.semantics_identifier(f"{a}{b}85031214")
            assert ascii_form.isascii() and ascii_form not in pairs, (a + b, pairs.get(ascii_form))
            pairs[ascii_form] = a + b
            assert rn.from_ascii(ascii_form) == f"{a}{b}85031214"
    assert rn.from_ascii("ub-85031214") == "УБ85031214"
    assert rn.from_ascii("УБ85031214") is None and rn.searchable("уб85031214") == "УБ85031214"


def test_key_usage_per_profile_in_etsi_style():
    signing, auth, enc = (DEFAULT_PROFILES[p].key_usage.extension() for p in ("signing", "authentication",
                                                                               "encryption"))
    assert signing.content_commitment and not signing.digital_signature and not signing.key_encipherment
    assert auth.digital_signature and not auth.content_commitment
    assert enc.key_encipherment and not enc.digital_signature and not enc.content_commitment
    assert DEFAULT_PROFILES["encryption"].allowed_key_types == ("rsa2048", "rsa3072")
    assert not any(p.qc_statements for p in DEFAULT_PROFILES.values())


def test_a_pds_must_be_served_over_https():
    import dataclasses

    import pytest

    with pytest.raises(ValueError, match="https"):
        dataclasses.replace(DEFAULT_PROFILES["signing"], qc_statements=True, qc_pds_url="http://ra.ub.gov.mn/pds")
