"""Legal-person digital certificates (法人数字证书): check them, and a local CA for the demo.

An organisation proves itself with an X.509 certificate that chains to a CA in the trust
store, is inside its validity period and carries its 统一社会信用代码 in the subject, and
by signing a one-time challenge with the certificate's private key. Production points the
trust store at the real CA's root; `placecode ca init` makes a local CA for the demo.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from placecode.clock import clock
from placecode.config import Settings
from placecode.errors import InvalidInput
from placecode.i18n import _
from placecode.venues.uscc import LENGTH as USCC_LENGTH
from placecode.venues.uscc import VALUES as USCC_CHARACTERS

MAX_CHAIN = 4
CA_DIR = "ca"
CA_KEY, CA_CERT = "ca.key", "ca.pem"


class CertificateRefused(InvalidInput):
    """A certificate or its proof of possession was not accepted; the code says why."""


@dataclass(frozen=True)
class CheckedCertificate:
    uscc: str
    name: str
    sha256: str
    subject: str
    not_after: datetime
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


def trust_store_paths(settings: Settings) -> list[Path]:
    """Where trusted roots are read: the configured files, else the local demo CA."""
    if settings.trust_store:
        return [Path(part) for part in settings.trust_store.split(",") if part.strip()]
    return [settings.key_dir / CA_DIR / CA_CERT]


def load_trust_store(settings: Settings) -> list[x509.Certificate]:
    roots: list[x509.Certificate] = []
    for path in trust_store_paths(settings):
        if path.is_file():
            roots.extend(x509.load_pem_x509_certificates(path.read_bytes()))
    return roots


def parse_pem_chain(pem: str) -> list[x509.Certificate]:
    """The certificate first, then any intermediates the applicant sent with it."""
    try:
        chain = x509.load_pem_x509_certificates(pem.encode("ascii", errors="strict"))
    except (ValueError, UnicodeEncodeError):
        raise CertificateRefused(
            _("This is not a PEM certificate (it should begin with -----BEGIN CERTIFICATE-----)."),
            code="certificate_unreadable",
        ) from None
    if not chain:
        raise CertificateRefused(_("No certificate was sent."), code="certificate_unreadable")
    return chain[:MAX_CHAIN]


def _same_name(a: x509.Name, b: x509.Name) -> bool:
    return a.public_bytes() == b.public_bytes()


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _check_period(certificate: x509.Certificate, now: datetime, whose: str) -> None:
    if now < certificate.not_valid_before_utc:
        raise CertificateRefused(
            _("The {whose} certificate is not valid before {when}.").format(
                whose=whose, when=certificate.not_valid_before_utc.date()
            ),
            code="certificate_not_yet_valid",
        )
    if now > certificate.not_valid_after_utc:
        raise CertificateRefused(
            _("The {whose} certificate expired on {when}.").format(
                whose=whose, when=certificate.not_valid_after_utc.date()
            ),
            code="certificate_expired",
        )


def _uscc_in_subject(subject: x509.Name) -> str | None:
    """The 18-character code in the subject (serialNumber, organizationIdentifier, OU, CN)."""
    for oid in (
        NameOID.SERIAL_NUMBER,
        NameOID.ORGANIZATION_IDENTIFIER,
        NameOID.ORGANIZATIONAL_UNIT_NAME,
        NameOID.COMMON_NAME,
    ):
        for attribute in subject.get_attributes_for_oid(oid):
            value = str(attribute.value).strip().upper()
            candidate = value[-USCC_LENGTH:]  # e.g. "NTRCN-9131..." (ETSI style)
            if len(candidate) == USCC_LENGTH and all(c in USCC_CHARACTERS for c in candidate):
                return candidate
    return None


def _subject_name(subject: x509.Name) -> str:
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        values = subject.get_attributes_for_oid(oid)
        if values:
            return str(values[0].value)
    return subject.rfc4514_string()


def check_certificate(
    *, pem: str, roots: list[x509.Certificate], now: datetime
) -> CheckedCertificate:
    """Check chain, validity period and the code in the subject; say which failed."""
    chain = parse_pem_chain(pem)
    leaf = chain[0]
    if not roots:
        raise CertificateRefused(
            _("No trusted CA is configured (PLACECODE_TRUST_STORE, or `placecode ca init`)."),
            code="no_trust_store",
        )
    _check_period(leaf, now, _("organisation"))
    current = leaf
    for _depth in range(MAX_CHAIN):
        root = next(
            (r for r in roots if _same_name(r.subject, current.issuer) and _issued_by(current, r)),
            None,
        )
        if root is not None:
            _check_period(root, now, _("CA"))
            break
        intermediate = next(
            (
                c
                for c in chain[1:]
                if _same_name(c.subject, current.issuer) and _is_ca(c) and _issued_by(current, c)
            ),
            None,
        )
        if intermediate is None:
            if _same_name(current.subject, current.issuer) and _issued_by(current, current):
                raise CertificateRefused(
                    _("The certificate is self-signed, not issued by a trusted CA."),
                    code="certificate_self_signed",
                )
            raise CertificateRefused(
                _("The certificate was not issued by a trusted CA (issuer: {issuer}).").format(
                    issuer=current.issuer.rfc4514_string()
                ),
                code="certificate_untrusted",
            )
        _check_period(intermediate, now, _("intermediate CA"))
        current = intermediate
    else:
        raise CertificateRefused(
            _("The certificate chain is too long."), code="certificate_untrusted"
        )

    uscc = _uscc_in_subject(leaf.subject)
    if uscc is None:
        raise CertificateRefused(
            _("The certificate's subject carries no unified social credit code."),
            code="certificate_no_uscc",
        )
    public_key = leaf.public_key()
    if not isinstance(
        public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
    ):
        raise CertificateRefused(
            _("The certificate's key type is not supported (use ECDSA, RSA or Ed25519)."),
            code="certificate_key_type",
        )
    return CheckedCertificate(
        uscc=uscc,
        name=_subject_name(leaf.subject),
        sha256=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest(),
        subject=leaf.subject.rfc4514_string()[:500],
        not_after=leaf.not_valid_after_utc,
        public_key=public_key,
    )


def decode_signature(signature: str) -> bytes:
    """Base64 or base64url, padded or not."""
    text = signature.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        raise CertificateRefused(
            _("The signature is not base64."), code="signature_unreadable"
        ) from None


def check_possession(certificate: CheckedCertificate, text: str, signature: bytes) -> None:
    """The challenge `text` must be signed with the certificate's private key (SHA-256)."""
    data = text.encode()
    key = certificate.public_key
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            size = (key.curve.key_size + 7) // 8
            if len(signature) == 2 * size:  # WebCrypto's raw r||s, not DER
                r = int.from_bytes(signature[:size], "big")
                s = int.from_bytes(signature[size:], "big")
                signature = encode_dss_signature(r, s)
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(signature, data)
    except (InvalidSignature, ValueError):
        raise CertificateRefused(
            _("The signature does not match the certificate: sign the challenge with its key."),
            code="signature_mismatch",
        ) from None


# --- the demo CA ------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedCertificate:
    certificate_path: Path
    key_path: Path
    uscc: str


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.write_bytes(data)


def _pkcs8(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


# The local CA is valid from before the epidemic, so that the demo district (on a clock
# shifted back to 2022) trusts it as much as a server on the wall clock does.
DEMO_CA_FROM = datetime(2019, 12, 1, tzinfo=UTC)


def init_ca(settings: Settings, *, name: str = "PlaceCode Demo CA", days: int = 3650) -> Path:
    """Make the local CA (key and self-signed root) unless it exists; return the root's path."""
    directory = settings.key_dir / CA_DIR
    certificate_path = directory / CA_CERT
    if certificate_path.exists():
        return certificate_path
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(DEMO_CA_FROM)  # the demo district lives in March 2022
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .sign(key, hashes.SHA256())
    )
    _write_private(directory / CA_KEY, _pkcs8(key))
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return certificate_path


def _common_name(name: str) -> str:
    """The name cut to the 64 bytes a common name may hold (the full name is in O)."""
    while len(name.encode()) > 64:
        name = name[:-1]
    return name


def issue_org_certificate(
    settings: Settings,
    *,
    uscc: str,
    name: str,
    out_dir: Path,
    days: int = 365,
    not_before: datetime | None = None,
) -> IssuedCertificate:
    """Issue an organisation certificate from the local CA (ECDSA P-256, code in the subject)."""
    directory = settings.key_dir / CA_DIR
    if not (directory / CA_KEY).exists():
        raise InvalidInput(_("There is no local CA yet: run `placecode ca init`."), code="no_ca")
    ca_key = serialization.load_pem_private_key((directory / CA_KEY).read_bytes(), password=None)
    ca_certificate = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise InvalidInput(_("The local CA key is not an ECDSA key."), code="no_ca")
    key = ec.generate_private_key(ec.SECP256R1())
    # From the earlier of the wall clock and the (possibly shifted) demo clock.
    start = not_before or min(datetime.now(UTC), clock.now()) - timedelta(minutes=5)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                    x509.NameAttribute(NameOID.SERIAL_NUMBER, uscc),
                    x509.NameAttribute(NameOID.COMMON_NAME, _common_name(name)),
                ]
            )
        )
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    certificate_path = out_dir / f"{uscc}.pem"
    key_path = out_dir / f"{uscc}.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    _write_private(key_path, _pkcs8(key))
    return IssuedCertificate(certificate_path=certificate_path, key_path=key_path, uscc=uscc)


def sign_challenge(key_pem: bytes, text: str) -> str:
    """Sign a challenge as the applicant's key would (what a certificate's USB key does)."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    data = text.encode()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
    elif isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(data)
    else:
        raise InvalidInput(_("This key type cannot sign a challenge."), code="key_type")
    return base64.b64encode(signature).decode()
