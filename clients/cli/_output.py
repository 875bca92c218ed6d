"""Everything the command prints goes through :class:`Output`.

Two guards live here, so no command can forget them:

* the token (and any other secret named) is replaced before text reaches a stream;
* text that came from the broker is shown, never interpreted: rich markup and
  emoji codes are off, and control characters (terminal escape sequences, bidi
  overrides that reorder what a reader sees) are shown escaped. Items come from
  other organisations; a title must not be able to drive the reader's terminal.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from rich.console import Console, RenderableType

__all__ = ["REDACTED", "Output", "clean", "json_text"]

REDACTED = "[redacted]"

# C0 controls except tab and newline, DEL, C1 controls, and the Unicode bidi
# embedding/override/isolate marks ("Trojan Source", CVE-2021-42574).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# A shorter "secret" would mangle ordinary output without protecting anything.
_MIN_SECRET_LENGTH = 4


def clean(text: object) -> str:
    """``text`` as a string that is safe to show on a terminal."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", str(text))


def json_text(data: Any) -> str:
    """``data`` as indented JSON, readable (non-ASCII kept) yet free of terminal controls."""
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
    # json.dumps already escapes C0; the rest is only legal inside strings, where
    # a \\uXXXX escape means the same thing.
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class Output:
    """The command's stdout and stderr, with secrets redacted and broker text made inert."""

    def __init__(
        self,
        stdout: TextIO,
        stderr: TextIO,
        env: Mapping[str, str],
        secrets: Iterable[str] = (),
    ) -> None:
        self._stdout = stdout
        self._stderr = stderr
        self._secrets: list[str] = []
        for secret in secrets:
            self.add_secret(secret)
        self._color = _isatty(stdout) and "NO_COLOR" not in env
        self._width = _width(env)

    @property
    def width(self) -> int:
        """The columns available for tables."""
        return self._width

    def add_secret(self, secret: str | None) -> None:
        """Never print ``secret`` from now on."""
        if secret and len(secret) >= _MIN_SECRET_LENGTH and secret not in self._secrets:
            self._secrets.append(secret)
            # Longest first, so a secret containing another is replaced whole.
            self._secrets.sort(key=len, reverse=True)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def write(self, text: str) -> None:
        """Write ``text`` as is (after redaction) to stdout."""
        self._stdout.write(self._redact(text))
        self._stdout.flush()

    def write_err(self, text: str) -> None:
        """Write ``text`` as is (after redaction) to stderr."""
        self._stderr.write(self._redact(text))
        self._stderr.flush()

    def line(self, text: str = "") -> None:
        """Print one line of the command's own text (broker values in it must be :func:`clean`)."""
        self.write(text + "\n")

    def json(self, data: Any) -> None:
        """Print ``data`` as JSON, for scripts."""
        self.write(json_text(data) + "\n")

    def render(self, renderable: RenderableType) -> None:
        """Print a rich table or text, sized to the terminal."""
        console = Console(
            file=io.StringIO(),
            width=self._width,
            force_terminal=self._color,
            no_color=not self._color,
            markup=False,
            emoji=False,
            highlight=False,
        )
        with console.capture() as captured:
            console.print(renderable)
        # Tables pad every line to their width; trailing blanks only get in the way.
        self.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))

    def error(self, message: str) -> None:
        """Print ``error: message`` to stderr."""
        self.write_err(f"error: {clean(message)}\n")

    def warning(self, message: str) -> None:
        """Print ``warning: message`` to stderr."""
        self.write_err(f"warning: {clean(message)}\n")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _width(env: Mapping[str, str]) -> int:
    try:
        columns = int(env.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    return shutil.get_terminal_size((120, 24)).columns
