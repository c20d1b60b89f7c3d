"""Signed tree heads and Ed25519 JWKs."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from robopass.ledger.heads import (
    HEAD_FIELDS,
    HeadSignatureError,
    InvalidJWK,
    format_timestamp,
    head_message,
    key_id_for,
    parse_timestamp,
    public_jwk,
    public_key_from_jwk,
    sign_head,
    verify_head,
)

# RFC 8037 appendix A.1 (private key), A.2 (public key), A.3 (thumbprint), A.4 (signature).
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC8037_SIGNING_INPUT = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
RFC8037_SIGNATURE = (
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)

ROOT = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def rfc_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_b64d(RFC8037_D))


@pytest.fixture()
def head(rfc_key: Ed25519PrivateKey) -> dict:
    return sign_head(
        rfc_key,
        origin="robopass.example/CN",
        size=8,
        root_hash_hex=ROOT,
        timestamp="2025-03-01T08:00:00Z",
        key_id=RFC8037_THUMBPRINT,
    )


def test_rfc8037_known_answers(rfc_key: Ed25519PrivateKey) -> None:
    public = rfc_key.public_key()
    jwk = public_jwk(public)
    assert jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": RFC8037_X,
        "kid": RFC8037_THUMBPRINT,
        "alg": "EdDSA",
        "use": "sig",
    }
    assert key_id_for(public) == RFC8037_THUMBPRINT
    # Ed25519 is deterministic, so the RFC's JWS signature checks the key handling end to end.
    assert rfc_key.sign(RFC8037_SIGNING_INPUT) == _b64d(RFC8037_SIGNATURE)


def test_head_message_format() -> None:
    assert head_message("o", 8, ROOT, "2025-03-01T08:00:00Z") == (
        f"o\n8\n{ROOT}\n2025-03-01T08:00:00Z\n".encode()
    )
    moment = datetime(2025, 3, 1, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    assert head_message("机器人", 0, ROOT, moment) == (
        f"机器人\n0\n{ROOT}\n2025-03-01T08:00:00Z\n".encode()
    )


def test_sign_and_verify(head: dict, rfc_key: Ed25519PrivateKey) -> None:
    assert tuple(head) == HEAD_FIELDS
    assert head["size"] == 8 and head["root_hash"] == ROOT and len(head["signature"]) == 128
    verify_head(head, rfc_key.public_key())
    # The key id is a lookup hint, not signed content.
    verify_head({**head, "key_id": "another"}, rfc_key.public_key())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("origin", "robopass.example/DE"),
        ("size", 9),
        ("root_hash", "6" + ROOT[1:]),
        ("timestamp", "2025-03-01T08:00:01Z"),
    ],
)
def test_any_signed_field_changed_fails(head: dict, rfc_key, field: str, value: object) -> None:
    with pytest.raises(HeadSignatureError, match="signature does not verify"):
        verify_head({**head, field: value}, rfc_key.public_key())


def test_flipped_signature_bit_and_other_key_fail(head: dict, rfc_key) -> None:
    signature = bytearray(bytes.fromhex(head["signature"]))
    signature[10] ^= 1
    with pytest.raises(HeadSignatureError):
        verify_head({**head, "signature": signature.hex()}, rfc_key.public_key())
    with pytest.raises(HeadSignatureError):
        verify_head(head, Ed25519PrivateKey.generate().public_key())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"signature": "zz"}, "signature is not 128 lowercase hex digits"),
        ({"size": -1}, "size must be a non-negative integer, not -1"),
        ({"size": "8"}, "size must be a non-negative integer, not '8'"),
        ({"size": True}, "size must be a non-negative integer, not True"),
        ({"root_hash": ROOT.upper()}, "is not 64 lowercase hex digits"),
        ({"origin": "a\nb"}, "origin must be a non-empty string without a newline"),
        ({"timestamp": "2025-03-01T08:00:00+00:00"}, "is not RFC 3339 UTC ending in 'Z'"),
        ({"key_id": 3}, "key_id must be a string"),
    ],
)
def test_malformed_heads(head: dict, rfc_key, change: dict, message: str) -> None:
    with pytest.raises(HeadSignatureError, match=message.replace("(", r"\(")):
        verify_head({**head, **change}, rfc_key.public_key())


def test_missing_fields(head: dict, rfc_key) -> None:
    partial = {k: v for k, v in head.items() if k not in ("size", "signature")}
    with pytest.raises(HeadSignatureError, match="^tree head lacks size, signature$"):
        verify_head(partial, rfc_key.public_key())


def test_sign_refuses_bad_fields(rfc_key) -> None:
    with pytest.raises(ValueError, match="root hash"):
        sign_head(
            rfc_key,
            origin="o",
            size=1,
            root_hash_hex="00",
            timestamp="2025-03-01T08:00:00Z",
            key_id="k",
        )


def test_timestamps() -> None:
    moment = datetime(2025, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert format_timestamp(moment) == "2025-03-01T08:00:00Z"
    assert format_timestamp(moment, timespec="milliseconds") == "2025-03-01T08:00:00.123Z"
    assert parse_timestamp("2025-03-01T08:00:00.123456Z") == moment
    assert parse_timestamp(format_timestamp(moment)) == moment.replace(microsecond=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2025, 3, 1))
    for bad in ["2025-03-01 08:00:00Z", "2025-03-01T08:00:00", "2025-13-01T08:00:00Z", ""]:
        with pytest.raises(ValueError):
            parse_timestamp(bad)


def test_jwk_round_trip() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    jwk = public_jwk(key, "2025-key-1")
    assert jwk["kid"] == "2025-key-1"
    loaded = public_key_from_jwk(jwk)
    assert public_jwk(loaded, "2025-key-1") == jwk
    assert key_id_for(loaded) == key_id_for(key)
    assert len(key_id_for(key)) == 43


@pytest.mark.parametrize(
    ("jwk", "message"),
    [
        ({"kty": "EC", "crv": "P-256", "x": RFC8037_X}, "not an Ed25519 key"),
        ({"kty": "OKP", "crv": "X25519", "x": RFC8037_X}, "not an Ed25519 key"),
        ({"kty": "OKP", "crv": "Ed25519"}, "x is missing"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X + "="}, "base64url without padding"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X[:-1] + "p"}, "not canonical"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X[:-4]}, "decodes to 29 bytes, want 32"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "alg": "ES256"}, "is not EdDSA"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "use": "enc"}, "is not sig"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "d": RFC8037_D}, "private key"),
        ([], "JSON object"),
    ],
)
def test_bad_jwks(jwk: object, message: str) -> None:
    with pytest.raises(InvalidJWK, match=message):
        public_key_from_jwk(jwk)  # type: ignore[arg-type]
