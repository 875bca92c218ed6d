"""Envelope encryption: seal, open, tamper detection, rotation and rewrap."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from broker.crypto import (
    Envelope,
    IntegrityFailure,
    KeyRing,
    canonical_json,
    open_envelope,
    rewrap,
    seal,
)

PLAINTEXT = b"indicator: 203.0.113.7 beaconing to c2.example every 300 s"
CONTENT_AAD = canonical_json({"item": "01J0ITEM", "kind": "content"})
KEY_AAD = canonical_json({"item": "01J0ITEM", "scope_version": 1, "tlp": "amber", "secret": True})


def _flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _without_kek(ring: KeyRing, version: int) -> KeyRing:
    """Return a copy of ``ring`` that no longer holds KEK ``version``."""
    document = json.loads(base64.b64decode(ring.to_env_value()))
    del document["keks"][str(version)]
    return KeyRing.from_env(base64.b64encode(canonical_json(document)).decode())


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


def test_round_trip(ring: KeyRing) -> None:
    """A sealed envelope opens to the original plaintext with the same associated data."""
    env = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)

    assert open_envelope(ring, env, content_aad=CONTENT_AAD, key_aad=KEY_AAD) == PLAINTEXT


def test_round_trip_empty_plaintext(ring: KeyRing) -> None:
    """An empty plaintext seals and opens like any other."""
    env = seal(ring, b"", content_aad=CONTENT_AAD, key_aad=KEY_AAD)

    assert open_envelope(ring, env, content_aad=CONTENT_AAD, key_aad=KEY_AAD) == b""


def test_envelope_shape(ring: KeyRing) -> None:
    """An envelope holds a 96-bit nonce, ciphertext with tag, a 60-byte wrapped key, the version."""
    env = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)

    assert len(env.nonce) == 12
    assert len(env.ciphertext) == len(PLAINTEXT) + 16
    assert len(env.wrapped_key) == 12 + 32 + 16
    assert env.kek_version == ring.current_kek_version == 1
    assert PLAINTEXT not in env.ciphertext


def test_each_seal_is_fresh(ring: KeyRing) -> None:
    """Sealing the same plaintext twice gives different nonces, ciphertexts and wrapped keys."""
    first = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)
    second = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)

    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext
    assert first.wrapped_key != second.wrapped_key


TAMPERINGS = {
    "content_aad": lambda env: (env, CONTENT_AAD + b" ", KEY_AAD),
    "key_aad": lambda env: (
        env,
        CONTENT_AAD,
        canonical_json({"item": "01J0ITEM", "scope_version": 2, "tlp": "amber", "secret": True}),
    ),
    "key_aad_tlp": lambda env: (
        env,
        CONTENT_AAD,
        canonical_json({"item": "01J0ITEM", "scope_version": 1, "tlp": "green", "secret": True}),
    ),
    "key_aad_secret": lambda env: (
        env,
        CONTENT_AAD,
        canonical_json({"item": "01J0ITEM", "scope_version": 1, "tlp": "amber", "secret": False}),
    ),
    "ciphertext": lambda env: (
        dataclasses.replace(env, ciphertext=_flip(env.ciphertext, 3)),
        CONTENT_AAD,
        KEY_AAD,
    ),
    "ciphertext_tag": lambda env: (
        dataclasses.replace(env, ciphertext=_flip(env.ciphertext, len(env.ciphertext) - 1)),
        CONTENT_AAD,
        KEY_AAD,
    ),
    "ciphertext_truncated": lambda env: (
        dataclasses.replace(env, ciphertext=env.ciphertext[:-1]),
        CONTENT_AAD,
        KEY_AAD,
    ),
    "nonce": lambda env: (dataclasses.replace(env, nonce=_flip(env.nonce)), CONTENT_AAD, KEY_AAD),
    "nonce_length": lambda env: (
        dataclasses.replace(env, nonce=env.nonce + b"\x00"),
        CONTENT_AAD,
        KEY_AAD,
    ),
    "wrapped_key_nonce": lambda env: (
        dataclasses.replace(env, wrapped_key=_flip(env.wrapped_key, 0)),
        CONTENT_AAD,
        KEY_AAD,
    ),
    "wrapped_key_body": lambda env: (
        dataclasses.replace(env, wrapped_key=_flip(env.wrapped_key, 20)),
        CONTENT_AAD,
        KEY_AAD,
    ),
    "wrapped_key_length": lambda env: (
        dataclasses.replace(env, wrapped_key=env.wrapped_key[:-1]),
        CONTENT_AAD,
        KEY_AAD,
    ),
    "kek_version": lambda env: (dataclasses.replace(env, kek_version=2), CONTENT_AAD, KEY_AAD),
}


@pytest.mark.parametrize("what", sorted(TAMPERINGS))
def test_tampering_is_detected(ring: KeyRing, what: str) -> None:
    """Altering any envelope field or either associated data makes opening fail to authenticate."""
    env = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)
    tampered, content_aad, key_aad = TAMPERINGS[what](env)

    with pytest.raises(IntegrityFailure):
        open_envelope(ring, tampered, content_aad=content_aad, key_aad=key_aad)


def test_rotated_kek_version_mismatch_is_detected(ring: KeyRing) -> None:
    """Relabelling an envelope with another KEK version the ring holds still fails to open."""
    env = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)
    ring.rotate()

    with pytest.raises(IntegrityFailure):
        open_envelope(
            ring, dataclasses.replace(env, kek_version=2), content_aad=CONTENT_AAD, key_aad=KEY_AAD
        )


def test_wrong_key_ring_is_detected(ring: KeyRing) -> None:
    """An envelope does not open under another ring's KEK of the same version."""
    env = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)

    with pytest.raises(IntegrityFailure):
        open_envelope(KeyRing.generate(), env, content_aad=CONTENT_AAD, key_aad=KEY_AAD)


def test_rotation_keeps_old_envelopes_openable(ring: KeyRing) -> None:
    """After rotation new seals use the new KEK and envelopes under the old one still open."""
    old = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)

    assert ring.rotate() == 2
    new = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)

    assert ring.current_kek_version == 2
    assert ring.kek_versions == (1, 2)
    assert new.kek_version == 2
    assert open_envelope(ring, old, content_aad=CONTENT_AAD, key_aad=KEY_AAD) == PLAINTEXT
    assert open_envelope(ring, new, content_aad=CONTENT_AAD, key_aad=KEY_AAD) == PLAINTEXT


def test_rewrap_moves_envelope_to_current_kek_and_old_kek_becomes_unnecessary(
    ring: KeyRing,
) -> None:
    """Rewrap moves an envelope to the current KEK; then a ring without the old KEK opens it."""
    env = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)
    ring.rotate()

    wrapped_key, kek_version = rewrap(ring, env, old_key_aad=KEY_AAD)
    moved = dataclasses.replace(env, wrapped_key=wrapped_key, kek_version=kek_version)
    pruned = _without_kek(ring, 1)

    assert kek_version == 2
    assert moved.ciphertext == env.ciphertext and moved.nonce == env.nonce
    assert pruned.kek_versions == (2,)
    assert open_envelope(pruned, moved, content_aad=CONTENT_AAD, key_aad=KEY_AAD) == PLAINTEXT
    with pytest.raises(IntegrityFailure, match="no KEK version 1"):
        open_envelope(pruned, env, content_aad=CONTENT_AAD, key_aad=KEY_AAD)


def test_rewrap_bare_wrapped_key(ring: KeyRing) -> None:
    """Rewrap accepts a bare wrapped key together with its KEK version."""
    env = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)
    ring.rotate()

    wrapped_key, kek_version = rewrap(ring, env.wrapped_key, env.kek_version, old_key_aad=KEY_AAD)
    moved = dataclasses.replace(env, wrapped_key=wrapped_key, kek_version=kek_version)

    assert open_envelope(ring, moved, content_aad=CONTENT_AAD, key_aad=KEY_AAD) == PLAINTEXT


def test_rewrap_rebinds_key_aad(ring: KeyRing) -> None:
    """Rewrap with new_key_aad makes the envelope open with the new key_aad and not the old one."""
    env = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)
    new_key_aad = canonical_json(
        {"item": "01J0ITEM", "scope_version": 2, "tlp": "amber", "secret": True}
    )

    wrapped_key, kek_version = rewrap(ring, env, old_key_aad=KEY_AAD, new_key_aad=new_key_aad)
    moved = dataclasses.replace(env, wrapped_key=wrapped_key, kek_version=kek_version)

    assert open_envelope(ring, moved, content_aad=CONTENT_AAD, key_aad=new_key_aad) == PLAINTEXT
    with pytest.raises(IntegrityFailure):
        open_envelope(ring, moved, content_aad=CONTENT_AAD, key_aad=KEY_AAD)


def test_rewrap_with_wrong_old_key_aad_fails(ring: KeyRing) -> None:
    """Rewrap refuses to re-bind a wrapped key whose old key_aad does not authenticate."""
    env = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)

    with pytest.raises(IntegrityFailure):
        rewrap(ring, env, old_key_aad=KEY_AAD + b"x", new_key_aad=KEY_AAD)


def test_rewrap_argument_contradictions_are_refused(ring: KeyRing) -> None:
    """Rewrap refuses a bare wrapped key with no version and an envelope with a conflicting one."""
    env = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)

    with pytest.raises(ValueError, match="required"):
        rewrap(ring, env.wrapped_key, old_key_aad=KEY_AAD)
    with pytest.raises(ValueError, match="contradicts"):
        rewrap(ring, env, 7, old_key_aad=KEY_AAD)


def test_envelope_is_immutable(ring: KeyRing) -> None:
    """An Envelope cannot be modified in place."""
    env = seal(ring, PLAINTEXT, content_aad=CONTENT_AAD, key_aad=KEY_AAD)

    with pytest.raises(dataclasses.FrozenInstanceError):
        env.kek_version = 9  # type: ignore[misc]
    assert isinstance(env, Envelope)
