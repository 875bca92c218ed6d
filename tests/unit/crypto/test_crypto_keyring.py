"""The key ring: file storage and permissions, environment form, rotation, signing, repr."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from broker.crypto import (
    IntegrityFailure,
    KeyRing,
    KeyRingError,
    canonical_json,
    open_envelope,
    seal,
    verify_signature,
)

AAD = b'{"item":"01J0ITEM"}'
PLAINTEXT = b"victim: Example Water Works, damage present"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _document(ring: KeyRing) -> dict[str, object]:
    loaded = json.loads(base64.b64decode(ring.to_env_value()))
    assert isinstance(loaded, dict)
    return loaded


def _key_material(ring: KeyRing) -> list[str]:
    """Every private key of ``ring`` in the encodings a leak would most likely use."""
    document = _document(ring)
    found: list[str] = []
    for section in ("keks", "signing_keys"):
        keys = document[section]
        assert isinstance(keys, dict)
        for encoded in keys.values():
            raw = base64.b64decode(encoded)
            found += [
                encoded,
                base64.urlsafe_b64encode(raw).decode(),
                raw.hex(),
                repr(raw)[2:-1],
            ]
    return found


def _env_value(document: object) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


# -- file storage ---------------------------------------------------------------


def test_create_writes_a_0600_file_and_no_temp_files(tmp_path: Path) -> None:
    """create() stores the ring in a 0600 file and leaves no temporary file behind."""
    path = tmp_path / "keyring.json"

    KeyRing.create(path)

    assert _mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]


def test_create_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    """create() gives mode 0600 even under a permissive umask."""
    path = tmp_path / "keyring.json"
    previous = os.umask(0)
    try:
        KeyRing.create(path)
    finally:
        os.umask(previous)

    assert _mode(path) == 0o600


def test_created_file_has_the_documented_format(tmp_path: Path) -> None:
    """The key ring file is JSON with format 1, base64 32-byte keys and current versions."""
    path = tmp_path / "keyring.json"
    KeyRing.create(path)

    document = json.loads(path.read_text())

    assert document["format"] == 1
    assert document["current_kek"] == 1
    assert document["current_signing"] == 1
    assert len(base64.b64decode(document["keks"]["1"])) == 32
    assert len(base64.b64decode(document["signing_keys"]["1"])) == 32


def test_create_refuses_an_existing_file(tmp_path: Path) -> None:
    """create() refuses to overwrite an existing file and leaves it untouched."""
    path = tmp_path / "keyring.json"
    path.write_bytes(b"precious")
    path.chmod(0o600)

    with pytest.raises(KeyRingError, match="already exists"):
        KeyRing.create(path)
    assert path.read_bytes() == b"precious"


def test_load_opens_what_create_sealed(tmp_path: Path) -> None:
    """A loaded ring holds the created ring's keys: it opens its envelopes, has its public keys."""
    path = tmp_path / "keyring.json"
    created = KeyRing.create(path)
    env = seal(created, PLAINTEXT, content_aad=AAD, key_aad=AAD)

    loaded = KeyRing.load(path)

    assert open_envelope(loaded, env, content_aad=AAD, key_aad=AAD) == PLAINTEXT
    assert loaded.public_keys() == created.public_keys()
    assert loaded.signing_key_id == created.signing_key_id


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602, 0o620, 0o610, 0o601])
def test_load_refuses_a_file_open_to_group_or_others(tmp_path: Path, mode: int) -> None:
    """load() refuses a key ring file with any group or other permission bit set."""
    path = tmp_path / "keyring.json"
    KeyRing.create(path)
    path.chmod(mode)

    with pytest.raises(KeyRingError, match="chmod 600"):
        KeyRing.load(path)


def test_load_accepts_a_stricter_mode(tmp_path: Path) -> None:
    """load() accepts a read-only 0400 key ring file."""
    path = tmp_path / "keyring.json"
    KeyRing.create(path)
    path.chmod(0o400)

    assert KeyRing.load(path).current_kek_version == 1


def test_load_refuses_a_missing_file(tmp_path: Path) -> None:
    """load() of a missing path raises KeyRingError naming it."""
    with pytest.raises(KeyRingError, match="does not exist"):
        KeyRing.load(tmp_path / "absent.json")


def test_load_refuses_a_directory(tmp_path: Path) -> None:
    """load() refuses a path that is not a regular file."""
    directory = tmp_path / "ring"
    directory.mkdir(mode=0o700)

    with pytest.raises(KeyRingError, match="not a regular file"):
        KeyRing.load(directory)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not valid UTF-8 JSON"),
        (b"\xff\xfe", "not valid UTF-8 JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"format": 2}', "unsupported format"),
    ],
)
def test_load_refuses_a_corrupt_file(tmp_path: Path, content: bytes, message: str) -> None:
    """load() raises KeyRingError for a file that is not a key ring."""
    path = tmp_path / "keyring.json"
    path.write_bytes(content)
    path.chmod(0o600)

    with pytest.raises(KeyRingError, match=message):
        KeyRing.load(path)


# -- rotation -------------------------------------------------------------------


def test_rotate_persists_atomically_with_0600(tmp_path: Path) -> None:
    """rotate() on a file ring writes the new version to the file, still 0600, with no temp left."""
    path = tmp_path / "keyring.json"
    ring = KeyRing.create(path)
    old = seal(ring, PLAINTEXT, content_aad=AAD, key_aad=AAD)

    assert ring.rotate() == 2

    reloaded = KeyRing.load(path)
    assert _mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]
    assert reloaded.current_kek_version == 2
    assert reloaded.kek_versions == (1, 2)
    assert open_envelope(reloaded, old, content_aad=AAD, key_aad=AAD) == PLAINTEXT
    new = seal(ring, PLAINTEXT, content_aad=AAD, key_aad=AAD)
    assert open_envelope(reloaded, new, content_aad=AAD, key_aad=AAD) == PLAINTEXT


def test_failed_persist_leaves_the_ring_unrotated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the rotated ring cannot be written, rotate() raises and the ring keeps its old version."""
    path = tmp_path / "keyring.json"
    ring = KeyRing.create(path)

    def failing_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        ring.rotate()
    monkeypatch.undo()

    assert ring.current_kek_version == 1
    assert ring.kek_versions == (1,)
    assert KeyRing.load(path).kek_versions == (1,)
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]


def test_load_refuses_a_fifo(tmp_path: Path) -> None:
    """load() refuses a FIFO at once instead of blocking on it."""
    fifo = tmp_path / "keyring.json"
    os.mkfifo(fifo, 0o600)

    with pytest.raises(KeyRingError, match="not a regular file"):
        KeyRing.load(fifo)


def test_load_refuses_an_oversized_file(tmp_path: Path) -> None:
    """load() refuses a file far larger than any key ring."""
    path = tmp_path / "keyring.json"
    path.write_bytes(b" " * (1 << 20 | 1))
    path.chmod(0o600)

    with pytest.raises(KeyRingError, match="too large"):
        KeyRing.load(path)


def test_rotate_refuses_a_file_rotated_by_another_process(tmp_path: Path) -> None:
    """rotate() refuses to overwrite a file rotated elsewhere since load, so no KEK is lost."""
    path = tmp_path / "keyring.json"
    KeyRing.create(path)
    first, second = KeyRing.load(path), KeyRing.load(path)
    first.rotate()
    sealed_by_first = seal(first, PLAINTEXT, content_aad=AAD, key_aad=AAD)

    with pytest.raises(KeyRingError, match="changed on disk"):
        second.rotate()

    assert second.kek_versions == (1,)
    reloaded = KeyRing.load(path)
    assert open_envelope(reloaded, sealed_by_first, content_aad=AAD, key_aad=AAD) == PLAINTEXT
    assert reloaded.rotate() == 3


def test_in_memory_ring_rotates(tmp_path: Path) -> None:
    """A generated ring rotates in memory without touching the file system."""
    ring = KeyRing.generate()

    assert ring.rotate() == 2
    assert ring.rotate() == 3
    assert ring.current_kek_version == 3


# -- environment form -----------------------------------------------------------


def test_env_round_trip() -> None:
    """A ring exported with to_env_value() and read by from_env() has the same keys."""
    ring = KeyRing.generate()
    ring.rotate()
    env = seal(ring, PLAINTEXT, content_aad=AAD, key_aad=AAD)

    copy = KeyRing.from_env(ring.to_env_value())

    assert copy.current_kek_version == 2
    assert copy.kek_versions == (1, 2)
    assert copy.public_keys() == ring.public_keys()
    assert open_envelope(copy, env, content_aad=AAD, key_aad=AAD) == PLAINTEXT


def test_env_value_of_a_file_matches_the_file(tmp_path: Path) -> None:
    """from_env() of a file ring's export opens what the file ring sealed."""
    ring = KeyRing.create(tmp_path / "keyring.json")
    env = seal(ring, PLAINTEXT, content_aad=AAD, key_aad=AAD)

    copy = KeyRing.from_env(ring.to_env_value())

    assert open_envelope(copy, env, content_aad=AAD, key_aad=AAD) == PLAINTEXT


def test_env_ring_cannot_rotate() -> None:
    """rotate() on a ring from the environment raises KeyRingError and changes nothing."""
    ring = KeyRing.from_env(KeyRing.generate().to_env_value())

    with pytest.raises(KeyRingError, match="environment cannot rotate"):
        ring.rotate()
    assert ring.kek_versions == (1,)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"format": 1, "keks": {}, "current_kek": 1}, "non-empty"),
        ({"format": 1, "keks": {"x": "AAAA"}, "current_kek": 1}, "positive integer"),
        ({"format": 1, "keks": {"0": "AAAA"}, "current_kek": 0}, "positive integer"),
        ({"format": 1, "keks": {"1": "AAAA"}, "current_kek": 1}, "must be 32 bytes"),
        ({"format": 1, "keks": {"1": "not base64!"}, "current_kek": 1}, "not valid base64"),
        ({"format": 1, "keks": {"1": 5}, "current_kek": 1}, "base64 string"),
    ],
)
def test_from_env_refuses_a_malformed_ring(document: dict[str, object], message: str) -> None:
    """from_env() raises KeyRingError for a structurally invalid ring."""
    with pytest.raises(KeyRingError, match=message):
        KeyRing.from_env(_env_value(document))


@pytest.mark.parametrize(
    ("field", "value"), [("current_kek", 2), ("current_kek", True), ("current_signing", "1")]
)
def test_from_env_refuses_a_current_version_not_in_the_ring(field: str, value: object) -> None:
    """from_env() raises KeyRingError when a current version names no key in the ring."""
    document = _document(KeyRing.generate())
    document[field] = value

    with pytest.raises(KeyRingError, match=field):
        KeyRing.from_env(_env_value(document))


def test_from_env_refuses_bad_base64() -> None:
    """from_env() raises KeyRingError for a value that is not base64."""
    with pytest.raises(KeyRingError, match="not valid base64"):
        KeyRing.from_env("{not base64}")


# -- no key material in text ------------------------------------------------------


def test_repr_and_str_reveal_no_key_material(tmp_path: Path) -> None:
    """repr() and str() of a key ring show versions and path but no key in any encoding."""
    rings = [KeyRing.generate(), KeyRing.create(tmp_path / "keyring.json")]
    rings.append(KeyRing.from_env(rings[0].to_env_value()))

    for ring in rings:
        ring_text = repr(ring) + str(ring) + f"{ring}"
        for secret in _key_material(ring):
            assert secret not in ring_text
        assert "kek_versions=[1]" in ring_text
        assert "ed25519-1" in ring_text


def test_integrity_failures_reveal_no_key_material_or_plaintext() -> None:
    """IntegrityFailure messages carry neither keys nor plaintext, and chain no inner exception."""
    ring = KeyRing.generate()
    env = seal(ring, PLAINTEXT, content_aad=AAD, key_aad=AAD)
    failures: list[IntegrityFailure] = []
    for content_aad, key_aad in [(AAD, b"other"), (b"other", AAD)]:
        with pytest.raises(IntegrityFailure) as caught:
            open_envelope(ring, env, content_aad=content_aad, key_aad=key_aad)
        failures.append(caught.value)

    for failure in failures:
        text = str(failure) + repr(failure)
        for secret in _key_material(ring):
            assert secret not in text
        assert PLAINTEXT.decode() not in text
        assert failure.__cause__ is None
        assert failure.__suppress_context__


def test_key_ring_errors_reveal_no_key_material() -> None:
    """KeyRingError from a malformed environment value neither echoes nor chains the value."""
    ring = KeyRing.generate()
    document = _document(ring)
    document["current_kek"] = 99
    bad_values = [
        _env_value(document),
        ring.to_env_value()[:-3],  # truncated base64
        base64.b64encode(canonical_json(document)[:-2]).decode(),  # truncated JSON
        base64.b64encode(b"\xff" + canonical_json(document)).decode(),  # not UTF-8
    ]

    for value in bad_values:
        with pytest.raises(KeyRingError) as caught:
            KeyRing.from_env(value)
        text = str(caught.value) + repr(caught.value)
        for secret in [*_key_material(ring), value]:
            assert secret not in text
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__


# -- signing --------------------------------------------------------------------


def test_signature_verifies_with_the_published_public_key() -> None:
    """A signature by the ring verifies against public_keys()[signing_key_id]."""
    ring = KeyRing.generate()
    data = b"checkpoint 42: merkle root ..."

    signature = ring.sign(data)
    public_key = ring.public_keys()[ring.signing_key_id]

    assert ring.signing_key_id == "ed25519-1"
    assert len(signature) == 64
    assert len(public_key) == 32
    assert verify_signature(public_key, data, signature) is True


def test_signature_rejects_other_data_and_other_keys() -> None:
    """verify_signature() returns False for altered data, a flipped signature or another key."""
    ring = KeyRing.generate()
    data = b"checkpoint 42"
    signature = ring.sign(data)
    public_key = ring.public_keys()[ring.signing_key_id]
    other_key = KeyRing.generate().public_keys()["ed25519-1"]
    flipped = bytes([signature[0] ^ 1]) + signature[1:]

    assert verify_signature(public_key, data + b"!", signature) is False
    assert verify_signature(public_key, data, flipped) is False
    assert verify_signature(other_key, data, signature) is False


@pytest.mark.parametrize(
    ("public_key", "signature"),
    [(b"short", b"\x00" * 64), (b"\x00" * 32, b"short"), (b"", b""), (b"\x00" * 33, b"\x00" * 64)],
)
def test_signature_malformed_input_is_false_not_an_error(
    public_key: bytes, signature: bytes
) -> None:
    """verify_signature() returns False for a malformed key or signature instead of raising."""
    assert verify_signature(public_key, b"data", signature) is False
