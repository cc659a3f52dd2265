"""A throwaway certificate authority and a server certificate for 127.0.0.1 / localhost.

simple-salesforce always builds `https://` URLs, so the sandbox must speak TLS. Clients trust the
sandbox by pointing `REQUESTS_CA_BUNDLE` (or `SSL_CERT_FILE`, or `verify=`) at `ca_path`.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE, CERT_FILE, KEY_FILE = "sandbox-ca.pem", "sandbox-server.pem", "sandbox-server-key.pem"
BUNDLE_FILE = "sandbox-ca-bundle.pem"
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsMaterial:
    ca_path: Path  # the CA certificate clients trust
    cert_path: Path  # the server certificate (leaf, then CA)
    key_path: Path  # the server's private key (unencrypted PEM)

    @property
    def bundle_path(self) -> Path:
        """The public CAs (certifi) plus the sandbox CA: trust both the sandbox and the world."""
        return self.ca_path.with_name(BUNDLE_FILE)

    def env(self) -> dict[str, str]:
        """The variables a client process sets to trust the sandbox (and still the public CAs)."""
        return {"REQUESTS_CA_BUNDLE": str(self.bundle_path), "SSL_CERT_FILE": str(self.bundle_path)}


def _write_bundle(material: TlsMaterial) -> None:
    public = b""
    try:
        import certifi

        public = Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n"
    except (ImportError, OSError):
        pass
    material.bundle_path.write_bytes(public + material.ca_path.read_bytes())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "revops-pipelines sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def generate_tls_material(
    directory: str | os.PathLike[str], hosts: tuple[str, ...] = DEFAULT_HOSTS, days: int = 30
) -> TlsMaterial:
    """Write a fresh CA and a server certificate for `hosts` into `directory`."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=5)
    until = now + timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("revops sandbox throwaway CA"))
        .issuer_name(_name("revops sandbox throwaway CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(_san(hosts), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    material = TlsMaterial(folder / CA_FILE, folder / CERT_FILE, folder / KEY_FILE)
    material.ca_path.write_bytes(ca_cert.public_bytes(pem))
    material.cert_path.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    material.key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    material.key_path.chmod(0o600)
    _write_bundle(material)
    return material


def ensure_tls_material(
    directory: str | os.PathLike[str], hosts: tuple[str, ...] = DEFAULT_HOSTS
) -> TlsMaterial:
    """Reuse the CA and certificate in `directory` while they have a day left; else make new ones.

    Reuse keeps a long-running client's trust (its `REQUESTS_CA_BUNDLE`) valid across restarts.
    """
    folder = Path(directory)
    material = TlsMaterial(folder / CA_FILE, folder / CERT_FILE, folder / KEY_FILE)
    if all(p.is_file() for p in (material.ca_path, material.cert_path, material.key_path)):
        try:
            cert = x509.load_pem_x509_certificate(material.cert_path.read_bytes())
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            covered = {str(v) for v in sans.get_values_for_type(x509.IPAddress)}
            covered |= set(sans.get_values_for_type(x509.DNSName))
            fresh = cert.not_valid_after_utc - datetime.now(UTC) > timedelta(days=1)
            if fresh and set(hosts) <= covered:
                if not material.bundle_path.is_file():
                    _write_bundle(material)
                return material
        except (ValueError, x509.ExtensionNotFound):
            pass
    return generate_tls_material(folder, hosts)
