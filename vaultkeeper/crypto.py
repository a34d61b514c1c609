"""The only module that imports ``cryptography`` and ``pyrage``: certificates, keys, signatures
and age encryption."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import orjson
import pyrage
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vaultkeeper.errors import ConfigError, UsageError
from vaultkeeper.privatefs import write_private

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
    write_private(key_path, key_bytes)
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
    nonce = os.urandom(SEAL_NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, blob: bytes, aad: bytes) -> bytes | None:
    """The plaintext of :func:`seal`, or None when the key, the AAD or the blob is wrong."""
    if len(blob) < SEAL_NONCE_BYTES + 16:
        return None
    try:
        return AESGCM(key).decrypt(blob[:SEAL_NONCE_BYTES], blob[SEAL_NONCE_BYTES:], aad)
    except InvalidTag:
        return None
# ------------------------------------------------------------------ Ed25519 package signing
SIGNING_KEY_FILE = "emergency-signing.key"


def load_or_create_signing_key(keys_dir: Path) -> ed25519.Ed25519PrivateKey:
    """The Ed25519 key that signs emergency packages: generated once, kept 0600 in ``keys_dir``.

    Losing it only means later packages carry a new public key; the private key never leaves
    the state folder and is never written into a package.
    """
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = keys_dir / SIGNING_KEY_FILE
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"{path} is readable by group or others", f"chmod 600 {path}",
                              file=str(path))
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ConfigError(f"{path} is not an Ed25519 private key",
                              "move it away; a new key is generated on the next run",
                              file=str(path))
        return key
    key = ed25519.Ed25519PrivateKey.generate()
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    write_private(path, data, exclusive=True)
    return key


def public_key_pem(key: ed25519.Ed25519PrivateKey) -> bytes:
    """The public half as PEM (SubjectPublicKeyInfo: ``openssl pkeyutl -verify`` reads it)."""
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(public_pem: bytes) -> str:
    """SHA-256 of the raw public key, hex: what people compare out of band."""
    key = serialization.load_pem_public_key(public_pem)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign(key: ed25519.Ed25519PrivateKey, data: bytes) -> bytes:
    """A raw 64-byte Ed25519 signature."""
    return key.sign(data)


def verify_signature(public_pem: bytes, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``data`` by the PEM public key."""
    try:
        key = serialization.load_pem_public_key(public_pem)
    except ValueError:
        return False
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return False
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


# ------------------------------------------------------------------------ age encryption
def age_recipients(specs: Sequence[str]) -> list[Any]:
    """Parse ``--encrypt-to`` values: ``age1…`` keys, SSH public keys, or files listing them."""
    found: list[Any] = []
    for spec in specs:
        lines = [spec]
        path = Path(spec).expanduser()
        if not spec.startswith(("age1", "ssh-")) and path.is_file():
            lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()
                     if ln.strip() and not ln.strip().startswith("#")]
        for line in lines:
            try:
                if line.startswith("age1"):
                    found.append(pyrage.x25519.Recipient.from_str(line))
                elif line.startswith("ssh-"):
                    found.append(pyrage.ssh.Recipient.from_str(line))
                else:
                    raise ValueError(line)
            except (ValueError, pyrage.RecipientError):
                raise UsageError(f"--encrypt-to {spec[:40]!r} is not an age recipient",
                                 "pass an age public key (age1…), an SSH public key, or a "
                                 "file listing them (one per line)") from None
    return found


def age_encrypt(source: IO[bytes], target: IO[bytes], recipients: Sequence[Any]) -> None:
    """Stream ``source`` into ``target`` encrypted in the age format."""
    pyrage.encrypt_io(source, target, list(recipients))


REGISTER_SALT = b"vaultkeeper erasure register v1"


def register_key(password: bytes) -> bytes:
    """The erasure register's 32-byte HMAC key: HKDF-SHA256 of the repository password."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=REGISTER_SALT,
                info=b"identifiers").derive(password)


def keyed_hash(key: bytes, text: str) -> str:
    """HMAC-SHA256 of ``text`` (UTF-8) under ``key``, hex."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


# ------------------------------------------------------------- JWT bearer (Salesforce sign-in)
def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_rsa_key_pair(bits: int = 2048) -> tuple[bytes, bytes]:
    """A new RSA key pair as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def sign_jwt_rs256(private_key_pem: str | bytes, claims: dict[str, Any]) -> str:
    """A compact RS256 JWT of ``claims`` (Salesforce's JWT bearer assertion).

    Raises ``ValueError`` when the PEM is not an unencrypted RSA private key.
    """
    data = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not an unencrypted PEM private key ({exc.__class__.__name__})") \
            from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the private key is not an RSA key (Salesforce needs RS256)")
    header = _b64url(orjson.dumps({"alg": "RS256", "typ": "JWT"}))
    body = _b64url(orjson.dumps(claims))
    signing_input = f"{header}.{body}".encode("ascii")
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{body}.{_b64url(signature)}"


def verify_jwt_rs256(public_key_pem: bytes, token: str) -> dict[str, Any] | None:
    """The claims of an RS256 JWT signed by the key, or None (bad form or bad signature)."""
    try:
        header_b64, body_b64, sig_b64 = token.split(".")
        header = orjson.loads(_b64url_decode(header_b64))
        claims = orjson.loads(_b64url_decode(body_b64))
        signature = _b64url_decode(sig_b64)
        key = serialization.load_pem_public_key(public_key_pem)
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(header, dict) or header.get("alg") != "RS256" \
            or not isinstance(claims, dict) or not isinstance(key, rsa.RSAPublicKey):
        return None
    try:
        key.verify(signature, f"{header_b64}.{body_b64}".encode("ascii"), padding.PKCS1v15(),
                   hashes.SHA256())
    except InvalidSignature:
        return None
    return claims


def public_key_of(private_key_pem: str | bytes) -> bytes:
    """The public key (SubjectPublicKeyInfo PEM) of a PEM private key; ValueError if unusable."""
    data = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    key = serialization.load_pem_private_key(data, password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


# --------------------------------------------------------------------- manifest signatures
SIGNATURE_TAG = "sig:"
"""Snapshot tag prefix holding the manifest's HMAC (``sig:<32 hex>``)."""


def manifest_signature(password: str, manifest: bytes) -> str:
    """HMAC-SHA256 of the manifest bytes, keyed by a key derived from the repository password
    (HMAC(password, label)); 128 bits as hex. Only someone holding the password — vaultkeeper —
    can make one, so a snapshot written by plain restic or an altered manifest never matches."""
    key = hmac.new(password.encode("utf-8"), b"vaultkeeper manifest signature v1",
                   hashlib.sha256).digest()
    return hmac.new(key, manifest, hashlib.sha256).hexdigest()[:32]


def signature_matches(password: str, manifest: bytes, tag_value: str) -> bool:
    """Constant-time comparison of a ``sig:`` tag value with the manifest's signature."""
    return hmac.compare_digest(manifest_signature(password, manifest), tag_value.lower())
