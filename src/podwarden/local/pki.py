"""The control plane's PKI, generated with `cryptography` and kept in the data directory.

A CA; the apiserver's serving certificate (SANs for loopback and the in-cluster service names);
client certificates for the admin, the controller manager, the scheduler and kwok; the
service-account signing key pair. Existing files are reused, so a restart keeps identities.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=3650)
APISERVER_SANS_DNS = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
APISERVER_SANS_IP = ("127.0.0.1", "10.96.0.1")
FRONT_PROXY_CLIENT = "front-proxy-client"


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate: file stem, user name (CN) and groups (O)."""

    stem: str
    common_name: str
    organizations: tuple[str, ...] = ()


CLIENTS = (
    ClientIdentity("admin", "podwarden-admin", ("system:masters",)),
    ClientIdentity("kube-controller-manager", "system:kube-controller-manager"),
    ClientIdentity("kube-scheduler", "system:kube-scheduler"),
    # kwok patches node and pod status and deletes pods; kwokctl also runs it as an admin.
    ClientIdentity("kwok", "kwok-controller", ("system:masters",)),
    # the Kubeflow training operator: its own ClusterRole (local.bootstrap), not an admin
    ClientIdentity("training-operator", "training-operator"),
)


@dataclass(frozen=True)
class PkiPaths:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def front_proxy_ca_cert(self) -> Path:
        return self.directory / "front-proxy-ca.crt"

    @property
    def front_proxy_ca_key(self) -> Path:
        return self.directory / "front-proxy-ca.key"

    @property
    def front_proxy_client_cert(self) -> Path:
        return self.directory / "front-proxy-client.crt"

    @property
    def front_proxy_client_key(self) -> Path:
        return self.directory / "front-proxy-client.key"

    @property
    def serving_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def sa_public(self) -> Path:
        return self.directory / "sa.pub"

    @property
    def sa_private(self) -> Path:
        return self.directory / "sa.key"

    def client_cert(self, stem: str) -> Path:
        return self.directory / f"{stem}.crt"

    def client_key(self, stem: str) -> Path:
        return self.directory / f"{stem}.key"


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, private: bool = False) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o600 if private else 0o644)
    tmp.replace(path)


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def _ensure_ca(
    cert_path: Path, key_path: Path, common_name: str, now: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    if not (cert_path.exists() and key_path.exists()):
        key = _new_key()
        name = _name(common_name)
        cert = (
            _builder(name, name, key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        _write(key_path, _key_pem(key), private=True)
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    loaded = serialization.load_pem_private_key(key_path.read_bytes(), None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{key_path} is not an EC private key")
    return x509.load_pem_x509_certificate(cert_path.read_bytes()), loaded


def _issue(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    cert_path: Path,
    key_path: Path,
    subject: x509.Name,
    now: dt.datetime,
    *,
    server: bool,
    extra_ips: tuple[str, ...] = (),
) -> None:
    if cert_path.exists() and key_path.exists():
        return
    ca_cert, ca_key = ca
    key = _new_key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _builder(subject, ca_cert.subject, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if server:
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in APISERVER_SANS_DNS]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in APISERVER_SANS_IP + extra_ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def ensure_pki(directory: Path, extra_ips: tuple[str, ...] = ()) -> PkiPaths:
    """Create whatever of the PKI is missing in directory; return its paths. ``extra_ips``: more
    IP SANs of a new apiserver certificate (an IPv6 plane's ::1 and ``kubernetes`` Service IP)."""
    paths = PkiPaths(directory)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    now = dt.datetime.now(dt.UTC)

    ca = _ensure_ca(paths.ca_cert, paths.ca_key, "podwarden-local-ca", now)
    serving, key, name = paths.serving_cert, paths.serving_key, _name("kube-apiserver")
    _issue(ca, serving, key, name, now, server=True, extra_ips=extra_ips)
    for client in CLIENTS:
        subject = _name(client.common_name, client.organizations)
        cert, key = paths.client_cert(client.stem), paths.client_key(client.stem)
        _issue(ca, cert, key, subject, now, server=False)

    # The aggregation layer's front proxy has its own CA, as kubeadm sets it up.
    proxy_ca = _ensure_ca(
        paths.front_proxy_ca_cert, paths.front_proxy_ca_key, "podwarden-front-proxy-ca", now
    )
    _issue(
        proxy_ca,
        paths.front_proxy_client_cert,
        paths.front_proxy_client_key,
        _name(FRONT_PROXY_CLIENT),
        now,
        server=False,
    )

    if not (paths.sa_private.exists() and paths.sa_public.exists()):
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write(paths.sa_private, _key_pem(sa_key), private=True)
        _write(
            paths.sa_public,
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )
    return paths


def ensure_serving_pki(directory: Path, common_name: str) -> PkiPaths:
    """A CA and one serving certificate it signs (SANs: loopback and the in-cluster names) in
    ``directory``, for a webhook podwarden serves on loopback (``ca.crt``; the certificate and
    key at ``serving_cert`` / ``serving_key``). Existing files are reused."""
    paths = PkiPaths(directory)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    now = dt.datetime.now(dt.UTC)
    ca = _ensure_ca(paths.ca_cert, paths.ca_key, f"{common_name}-ca", now)
    _issue(ca, paths.serving_cert, paths.serving_key, _name(common_name), now, server=True)
    return paths
