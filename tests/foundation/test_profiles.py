from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ra.profiles import DEFAULT_PROFILES, SubjectData, build_subject


def test_subject_keeps_the_cyrillic_register_number_readable():
    s = SubjectData(latin_name="Bolormaa Batbayar", cyrillic_name="Болормаа Батбаяр", register_number="УБ99032512",
                    organisation="Сүхбаатар дүүргийн ЗДТГ", department="Мэдээллийн технологи", position="Мэргэжилтэн",
                    email="bolormaa@sbd.gov.mn")
    name = build_subject(DEFAULT_PROFILES["signing"], s)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    parsed = x509.load_pem_x509_csr(csr.public_bytes(__import__("cryptography.hazmat.primitives.serialization",
                                                                  fromlist=["Encoding"]).Encoding.PEM))
    assert parsed.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "УБ99032512"
    assert parsed.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "MN"
    assert parsed.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Bolormaa Batbayar"
