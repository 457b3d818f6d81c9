"""Legal-person certificates: chain, validity, the code in the subject, proof of possession."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from placecode.config import Settings
from placecode.venues import certificates
from placecode.venues.certificates import CertificateRefused

USCC = "91440300708461136T"


@pytest.fixture
def ca_settings(make_settings: Callable[..., Settings], tmp_path: Path) -> Settings:
    settings = make_settings(key_dir=tmp_path / "keys")
    certificates.init_ca(settings)
    return settings


def issue(settings: Settings, tmp_path: Path, **kwargs: object) -> tuple[str, bytes]:
    issued = certificates.issue_org_certificate(
        settings,
        uscc=USCC,
        name="腾讯科技（深圳）有限公司",
        out_dir=tmp_path / "org",
        **kwargs,  # type: ignore[arg-type]
    )
    return issued.certificate_path.read_text(), issued.key_path.read_bytes()


def check(
    settings: Settings, pem: str, now: datetime | None = None
) -> certificates.CheckedCertificate:
    return certificates.check_certificate(
        pem=pem, roots=certificates.load_trust_store(settings), now=now or datetime.now(UTC)
    )


def test_a_certificate_from_the_trusted_ca_is_accepted(
    ca_settings: Settings, tmp_path: Path
) -> None:
    pem, key = issue(ca_settings, tmp_path)
    checked = check(ca_settings, pem)
    assert checked.uscc == USCC
    assert checked.name == "腾讯科技（深圳）有限公司"
    text = "placecode-verify:abc"
    signature = certificates.decode_signature(certificates.sign_challenge(key, text))
    certificates.check_possession(checked, text, signature)


def test_an_expired_certificate_is_refused(ca_settings: Settings, tmp_path: Path) -> None:
    pem, _key = issue(
        ca_settings, tmp_path, days=30, not_before=datetime.now(UTC) - timedelta(days=60)
    )
    with pytest.raises(CertificateRefused) as refused:
        check(ca_settings, pem)
    assert refused.value.code == "certificate_expired"
    assert "expired on" in refused.value.message


def test_a_not_yet_valid_certificate_is_refused(ca_settings: Settings, tmp_path: Path) -> None:
    pem, _key = issue(ca_settings, tmp_path, not_before=datetime.now(UTC) + timedelta(days=2))
    with pytest.raises(CertificateRefused) as refused:
        check(ca_settings, pem)
    assert refused.value.code == "certificate_not_yet_valid"


def test_a_certificate_of_another_ca_is_refused(
    ca_settings: Settings, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    other = make_settings(key_dir=tmp_path / "other-keys")
    certificates.init_ca(other, name="Some Other CA")
    pem, _key = issue(other, tmp_path)
    with pytest.raises(CertificateRefused) as refused:
        check(ca_settings, pem)
    assert refused.value.code == "certificate_untrusted"
    assert "Some Other CA" in refused.value.message


def self_signed(subject_uscc: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "自签名公司"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, subject_uscc),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_a_self_signed_certificate_is_refused(ca_settings: Settings) -> None:
    with pytest.raises(CertificateRefused) as refused:
        check(ca_settings, self_signed(USCC))
    assert refused.value.code == "certificate_self_signed"


def test_a_certificate_without_a_credit_code_is_refused(
    ca_settings: Settings, tmp_path: Path
) -> None:
    issued = certificates.issue_org_certificate(
        ca_settings, uscc="not-a-code", name="无代码公司", out_dir=tmp_path / "x"
    )
    with pytest.raises(CertificateRefused) as refused:
        check(ca_settings, issued.certificate_path.read_text())
    assert refused.value.code == "certificate_no_uscc"


def test_a_signature_by_another_key_is_refused(ca_settings: Settings, tmp_path: Path) -> None:
    pem, _key = issue(ca_settings, tmp_path)
    checked = check(ca_settings, pem)
    stranger = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    text = "placecode-verify:abc"
    forged = certificates.decode_signature(certificates.sign_challenge(stranger, text))
    with pytest.raises(CertificateRefused) as refused:
        certificates.check_possession(checked, text, forged)
    assert refused.value.code == "signature_mismatch"


def test_a_signature_of_other_text_is_refused(ca_settings: Settings, tmp_path: Path) -> None:
    pem, key = issue(ca_settings, tmp_path)
    checked = check(ca_settings, pem)
    signature = certificates.decode_signature(certificates.sign_challenge(key, "other text"))
    with pytest.raises(CertificateRefused, match="does not match"):
        certificates.check_possession(checked, "placecode-verify:abc", signature)


def test_a_raw_webcrypto_signature_is_understood(ca_settings: Settings, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    pem, key_pem = issue(ca_settings, tmp_path)
    checked = check(ca_settings, pem)
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    r, s = decode_dss_signature(key.sign(b"challenge", ec.ECDSA(hashes.SHA256())))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    certificates.check_possession(checked, "challenge", raw)


def test_garbage_is_not_a_certificate(ca_settings: Settings) -> None:
    with pytest.raises(CertificateRefused) as refused:
        check(ca_settings, "hello")
    assert refused.value.code == "certificate_unreadable"


def test_no_trust_store_is_a_clear_refusal(
    make_settings: Callable[..., Settings], ca_settings: Settings, tmp_path: Path
) -> None:
    pem, _key = issue(ca_settings, tmp_path)
    empty = make_settings(key_dir=tmp_path / "empty")
    with pytest.raises(CertificateRefused) as refused:
        check(empty, pem)
    assert refused.value.code == "no_trust_store"
