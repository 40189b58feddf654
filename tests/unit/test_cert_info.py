"""The lookup that reads the generated certificates on the control node (instead of a module per
file): what it reports is what x509_certificate_info reported, and redis_certs_due judges it."""

from __future__ import annotations

import datetime
import importlib.util
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.unit.role_code import REPO, F

_SPEC = importlib.util.spec_from_file_location("redis_cert_info", REPO / "plugins/lookup/redis_cert_info.py")
L = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(L)
NOW = datetime.datetime(2026, 12, 6, tzinfo=datetime.UTC)


def _pem(days_left: int, sans: list) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "redis-1")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=days_left))
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def test_names_and_renewal_window_read_from_the_certificate():
    sans = [x509.DNSName("redis-1"), x509.IPAddress(ipaddress.ip_address("10.0.0.11"))]
    info = L.certificate_info(_pem(100, sans), renew_days=30, now=NOW)
    assert info == {"subject_alt_name": ["DNS:redis-1", "IP:10.0.0.11"], "valid_at": {"renew": True}}
    assert L.certificate_info(_pem(10, sans), renew_days=30, now=NOW)["valid_at"]["renew"] is False


def test_a_ca_without_names_and_a_missing_file_are_judged_like_before(tmp_path):
    ca = {"name": "ca", "dir": ".", "sans": []}
    (tmp_path / "ca.crt").write_bytes(_pem(1000, []))
    lookup = L.LookupModule()
    [ok] = lookup.run([ca], variables={}, pki_dir=str(tmp_path), renew_days=30)
    assert ok["subject_alt_name"] == [] and F.redis_certs_due([ok]) == []
    host = {"name": "redis-1", "dir": "hosts", "sans": ["DNS:redis-1"]}
    [missing] = lookup.run([host], variables={}, pki_dir=str(tmp_path), renew_days=30)
    assert missing["failed"] and F.redis_certs_due([missing]) == [{**host, "exists": False}]
