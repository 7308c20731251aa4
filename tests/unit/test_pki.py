"""The generated PKI: chains to its CA, carries the SANs and identities, and is kept."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from podwarden.local.pki import CLIENTS, ensure_pki
from podwarden.local.runtime import serving_ips
from podwarden.model.planes import PlaneNetwork


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_serving_certificate_is_signed_by_ca_with_loopback_and_service_sans(
    tmp_path: Path,
) -> None:
    paths = ensure_pki(tmp_path / "pki")
    ca, serving = _cert(paths.ca_cert), _cert(paths.serving_cert)
    serving.verify_directly_issued_by(ca)
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert "kubernetes.default.svc.cluster.local" in san.get_values_for_type(x509.DNSName)
    eku = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku


def test_an_ipv6_planes_certificate_names_ipv6_loopback_and_its_kubernetes_service(
    tmp_path: Path,
) -> None:
    network = PlaneNetwork("ipv6", "fd4e:27c1:9a0b::/108")
    assert serving_ips(network) == ("::1", "fd4e:27c1:9a0b::1")
    assert serving_ips(PlaneNetwork()) == ()
    paths = ensure_pki(tmp_path / "pki", serving_ips(network))
    san = _cert(paths.serving_cert).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    ips = san.value.get_values_for_type(x509.IPAddress)
    for ip in ("127.0.0.1", "::1", "fd4e:27c1:9a0b::1"):
        assert ipaddress.ip_address(ip) in ips


def test_client_certificates_carry_user_and_groups(tmp_path: Path) -> None:
    paths = ensure_pki(tmp_path / "pki")
    ca = _cert(paths.ca_cert)
    for client in CLIENTS:
        cert = _cert(paths.client_cert(client.stem))
        cert.verify_directly_issued_by(ca)
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        orgs = tuple(
            a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        )
        assert (cn, orgs) == (client.common_name, client.organizations)
    admin = next(c for c in CLIENTS if c.stem == "admin")
    assert "system:masters" in admin.organizations


def test_private_keys_are_private_and_pki_is_reused(tmp_path: Path) -> None:
    paths = ensure_pki(tmp_path / "pki")
    assert paths.ca_key.stat().st_mode & 0o777 == 0o600
    assert paths.sa_private.stat().st_mode & 0o777 == 0o600
    before = {p.name: p.read_bytes() for p in paths.directory.iterdir()}
    ensure_pki(tmp_path / "pki")
    after = {p.name: p.read_bytes() for p in paths.directory.iterdir()}
    assert before == after


def test_front_proxy_client_is_signed_by_its_own_ca(tmp_path: Path) -> None:
    paths = ensure_pki(tmp_path / "pki")
    proxy = _cert(paths.front_proxy_client_cert)
    proxy.verify_directly_issued_by(_cert(paths.front_proxy_ca_cert))
    assert proxy.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "front-proxy-client"
    )
    assert _cert(paths.front_proxy_ca_cert).subject != _cert(paths.ca_cert).subject
