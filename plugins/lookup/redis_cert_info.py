"""Read certificates on the control node, in the shape community.crypto.x509_certificate_info
returns (subject_alt_name, valid_at.renew), without running a module per file."""

from __future__ import annotations

DOCUMENTATION = r"""
name: redis_cert_info
short_description: What the kit's generated certificates name and how long they stay valid
description:
  - Each term is a wanted certificate (C(name), C(dir) under C(pki_dir), C(sans)); its file is
    C(pki_dir/dir/name.crt). Each result has C(item) (the term), C(subject_alt_name) (C(DNS:name),
    C(IP:address)) and C(valid_at.renew) (still valid C(renew_days) from now), or C(failed) when
    the file is missing or unreadable. filter redis_certs_due decides what to (re)issue.
options:
  pki_dir:
    description: The PKI directory on the control node.
    type: str
    required: true
  renew_days:
    description: The renewal window in days.
    type: int
    default: 30
"""

import datetime
import ipaddress

from ansible.plugins.lookup import LookupBase


def certificate_info(pem: bytes, renew_days: int, now: datetime.datetime | None = None) -> dict:
    """subject_alt_name and valid_at.renew of one PEM certificate (ValueError if it is none)."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem)
    names = []
    try:
        for name in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value:
            if isinstance(name, x509.DNSName):
                names.append(f"DNS:{name.value}")
            elif isinstance(name, x509.IPAddress):
                names.append(f"IP:{ipaddress.ip_address(name.value).compressed}")
    except x509.ExtensionNotFound:
        pass
    now = now or datetime.datetime.now(datetime.UTC)
    at = now + datetime.timedelta(days=renew_days)
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    return {"subject_alt_name": names, "valid_at": {"renew": not_before <= at <= not_after}}


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        renew_days = int(kwargs.get("renew_days", 30))
        pki_dir = kwargs["pki_dir"]
        results = []
        for term in terms:
            result = {"item": term}
            try:
                with open(f"{pki_dir}/{term.get('dir') or '.'}/{term['name']}.crt", "rb") as fh:
                    result.update(certificate_info(fh.read(), renew_days))
            except (OSError, ValueError) as exc:
                result.update(failed=True, msg=str(exc))
            results.append(result)
        return results
