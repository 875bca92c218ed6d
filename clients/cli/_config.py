"""Where the broker URL and the token come from: flags, then the environment, then a file.

The file is TOML with the keys ``url`` and ``token``, at ``$COUNCIL_CONFIG`` or
else ``$XDG_CONFIG_HOME/council/config.toml`` (``~/.config/council/config.toml``).
It is read only when a flag or the environment leaves something unset.
"""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ConfigError", "Connection", "NotSignedIn", "config_path", "resolve_connection"]


class ConfigError(Exception):
    """The URL or token is missing, or the config file cannot be used."""


class NotSignedIn(ConfigError):
    """No token anywhere: the person has not signed in."""


@dataclass(frozen=True)
class Connection:
    """Where to connect and as whom; ``warnings`` are for the person, not fatal."""

    url: str
    token: str = field(repr=False)
    warnings: tuple[str, ...] = ()
    file_token: str | None = field(default=None, repr=False)


def config_path(env: Mapping[str, str]) -> Path:
    """The config file to read: ``$COUNCIL_CONFIG``, else the XDG default."""
    explicit = env.get("COUNCIL_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "council" / "config.toml"


def _read_file(path: Path, explicit: bool) -> tuple[dict[str, str], list[str]]:
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path} does not exist")
        return {}, []
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    values: dict[str, str] = {}
    for key in ("url", "token"):
        if key in data:
            if not isinstance(data[key], str):
                raise ConfigError(f"config file {path}: {key} must be a string")
            values[key] = data[key]
    warnings: list[str] = []
    # Like ssh with its keys: a token others can read is a token others can use.
    if "token" in values and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.append(f"config file {path} is readable by others; run: chmod 600 {path}")
    return values, warnings


def resolve_connection(
    url_flag: str | None, token_flag: str | None, env: Mapping[str, str]
) -> Connection:
    """Pick the URL and token: the flags, else COUNCIL_URL/COUNCIL_TOKEN, else the file."""
    url = url_flag or env.get("COUNCIL_URL") or None
    token = token_flag or env.get("COUNCIL_TOKEN") or None
    path = config_path(env)
    warnings: list[str] = []
    file_token: str | None = None
    if url is None or token is None:
        values, warnings = _read_file(path, explicit=bool(env.get("COUNCIL_CONFIG")))
        file_token = values.get("token")
        url = url or values.get("url") or None
        token = token or file_token or None
    if url is None:
        raise ConfigError(f"no broker URL: pass --url, set COUNCIL_URL, or put url in {path}")
    if token is None:
        raise NotSignedIn(
            f"not signed in (no token): set COUNCIL_TOKEN, pass --token, or put token in {path}"
        )
    return Connection(url, token, tuple(warnings), file_token)
