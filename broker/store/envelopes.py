"""A sealed record's envelope as four columns: nonce, ciphertext, wrapped key, key version."""

from __future__ import annotations

from typing import Any

from broker.crypto import Envelope

__all__ = ["envelope_columns", "envelope_of"]


def envelope_of(row: Any) -> Envelope:
    """The envelope a row's `nonce`, `ciphertext`, `wrapped_key`, `kek_version` hold."""
    return Envelope(
        nonce=bytes(row.nonce),
        ciphertext=bytes(row.ciphertext),
        wrapped_key=bytes(row.wrapped_key),
        kek_version=int(row.kek_version),
    )


def envelope_columns(env: Envelope) -> dict[str, Any]:
    """The column values that store `env`."""
    return {
        "nonce": env.nonce,
        "ciphertext": env.ciphertext,
        "wrapped_key": env.wrapped_key,
        "kek_version": env.kek_version,
    }
