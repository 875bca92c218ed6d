"""Tokens, secrets, HMAC and canonical JSON."""

from __future__ import annotations

import base64
import hashlib
import math
import re

import pytest

from broker.crypto import (
    canonical_json,
    constant_time_equals,
    hash_token,
    hmac_sha256,
    new_token,
    random_secret,
)

TOKEN_SHAPE = re.compile(r"cbt_[A-Za-z0-9_-]{43}")


def test_token_format_carries_256_bits() -> None:
    """A token is "cbt_" then 43 unpadded urlsafe base64 characters decoding to 32 bytes."""
    token = new_token()

    assert TOKEN_SHAPE.fullmatch(token)
    body = token.removeprefix("cbt_")
    assert len(base64.urlsafe_b64decode(body + "=")) == 32


def test_tokens_are_unique_and_well_spread() -> None:
    """A thousand tokens are distinct and their base64 bodies use most of the alphabet."""
    tokens = {new_token() for _ in range(1000)}

    assert len(tokens) == 1000
    alphabet = set("".join(t.removeprefix("cbt_") for t in tokens))
    assert len(alphabet) == 64  # with 43 000 symbols, any missing one means bias


def test_hash_token_is_deterministic_hex_sha256() -> None:
    """hash_token() is the hex SHA-256 of the token: equal for equal tokens, distinct otherwise."""
    token, other = new_token(), new_token()

    assert hash_token(token) == hash_token(token)
    assert hash_token(token) != hash_token(other)
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", hash_token(token))
    assert token not in hash_token(token)


def test_hash_token_accepts_any_string() -> None:
    """hash_token() hashes non-ASCII and lone-surrogate input instead of raising."""
    assert len(hash_token("cbt_é")) == 64
    assert len(hash_token("cbt_\udcff")) == 64


def test_constant_time_equals() -> None:
    """constant_time_equals() is string equality, including for non-ASCII input."""
    token = new_token()

    assert constant_time_equals(token, token)
    assert constant_time_equals(token, "".join(list(token)))
    assert not constant_time_equals(token, new_token())
    assert not constant_time_equals(token, token[:-1])
    assert not constant_time_equals(token, "")
    assert constant_time_equals("ключ", "ключ")
    assert not constant_time_equals("ключ", "ключи")


def test_hmac_sha256_matches_rfc_4231() -> None:
    """hmac_sha256() gives the RFC 4231 test case 2 digest as hex."""
    digest = hmac_sha256(b"Jefe", b"what do ya want for nothing?")

    assert digest == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_random_secret_length_and_uniqueness() -> None:
    """random_secret(n) is unpadded urlsafe base64 of n random bytes, different each call."""
    secret = random_secret()

    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
    assert len(random_secret(48)) == math.ceil(48 * 4 / 3)
    assert random_secret() != random_secret()


def test_random_secret_refuses_fewer_than_128_bits() -> None:
    """random_secret() raises ValueError for fewer than 16 bytes."""
    with pytest.raises(ValueError, match="at least 16"):
        random_secret(15)


def test_canonical_json_sorts_keys_without_whitespace() -> None:
    """canonical_json() sorts keys at every level and emits no whitespace."""
    value = {"b": 1, "a": {"z": [1, 2], "y": None}, "c": True}

    assert canonical_json(value) == b'{"a":{"y":null,"z":[1,2]},"b":1,"c":true}'
    assert canonical_json(value) == canonical_json(dict(reversed(list(value.items()))))


def test_canonical_json_is_raw_utf8() -> None:
    """canonical_json() writes non-ASCII characters as UTF-8, not as escapes."""
    assert canonical_json({"名前": "é"}) == '{"名前":"é"}'.encode()


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_canonical_json_refuses_non_json_numbers(number: float) -> None:
    """canonical_json() raises ValueError for NaN and infinities."""
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"x": number})
