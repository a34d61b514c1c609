"""The only module that imports ``cryptography``: certificates, keys and signatures."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"


def _san_entries(hostnames: Sequence[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for name in hostnames:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


def generate_self_signed_cert(
    directory: Path,
    hostnames: Sequence[str] = ("127.0.0.1", "localhost"),
    *,
    valid_days: int = 3 * 365,
) -> tuple[Path, Path]:
    """Write a self-signed ``cert.pem`` + ``key.pem`` (0600) into ``directory``; return both paths.

    The certificate is its own CA (basicConstraints CA=True, keyCertSign), so clients verify
    it by passing ``cert.pem`` as the CA bundle (requests ``verify=``, httpx ``verify=``,
    urllib3 ``ca_certs=``). Names that parse as IP addresses become IP SANs, others DNS SANs.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # P-256 keys are generated in microseconds and every TLS stack in use accepts them.
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vaultkeeper sandbox"),
        x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0] if hostnames else "localhost"),
    ])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # Back-dated a little so a client whose clock lags behind still accepts it.
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.SubjectAlternativeName(_san_entries(hostnames)), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                       critical=False)
    )
    cert = builder.sign(key, hashes.SHA256())
    cert_path = directory / CERT_FILE
    key_path = directory / KEY_FILE
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Create the key file 0600 from the start: never a moment where it is world-readable.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_bytes)
    os.chmod(key_path, 0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def certificate_is_usable(cert_path: Path, hostnames: Sequence[str]) -> bool:
    """True when ``cert_path`` is a PEM certificate valid for a week more and naming every host."""
    try:
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    if cert.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=7):
        return False
    names = {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    names |= set(san.get_values_for_type(x509.DNSName))
    return all(str(h) in names for h in hostnames)


# ------------------------------------------------------------------------- sealing (escrow)
SEAL_NONCE_BYTES = 12


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM: ``nonce || ciphertext || tag`` (a wrong key or any changed byte fails)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(SEAL_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, blob: bytes, aad: bytes) -> bytes | None:
    """The plaintext of :func:`seal`, or None when the key, the AAD or the blob is wrong."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(blob) < SEAL_NONCE_BYTES + 16:
        return None
    try:
        return AESGCM(key).decrypt(blob[:SEAL_NONCE_BYTES], blob[SEAL_NONCE_BYTES:], aad)
    except InvalidTag:
        return None
