"""The portal's languages: Japanese (the default) and English, from gettext catalogues.

The catalogues are the committed `.po` files under `locale/`; they are
compiled in memory when the portal starts (Babel), so a fresh clone needs no
build step and a `.po` edit shows on the next start. The language of a page
follows `?lang=` (which also sets the language cookie), then that cookie (set
by the switch on every page), then `Accept-Language`, then Japanese: the
council's members are Japanese organisations.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web
from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANG_COOKIE",
    "Catalogues",
    "choose_language",
    "load_catalogues",
]

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"
LANG_COOKIE = "council_lang"
LOCALE_DIR = Path(__file__).parent / "locale"

Catalogues = Mapping[str, gettext.NullTranslations]


def load_catalogues(directory: Path = LOCALE_DIR) -> dict[str, gettext.NullTranslations]:
    """Every language's translations, compiled from its `.po` file."""
    catalogues: dict[str, gettext.NullTranslations] = {}
    for language in LANGUAGES:
        po = directory / language / "LC_MESSAGES" / "messages.po"
        with po.open("rb") as handle:
            catalogue = read_po(handle, locale=language)
        compiled = io.BytesIO()
        write_mo(compiled, catalogue)  # fuzzy entries are left out, as msgfmt does
        compiled.seek(0)
        catalogues[language] = gettext.GNUTranslations(compiled)
    return catalogues


def choose_language(request: web.Request) -> tuple[str, bool]:
    """The page's language, and whether it came from `?lang=` (then the cookie is set)."""
    asked = request.query.get("lang")
    if asked in LANGUAGES:
        return asked, True
    remembered = request.cookies.get(LANG_COOKIE)
    if remembered in LANGUAGES:
        return remembered, False
    preferred = _accepted(request.headers.get("Accept-Language", ""))
    negotiated = negotiate_locale(preferred, LANGUAGES, sep="_") if preferred else None
    return (negotiated or DEFAULT_LANGUAGE), False


def _accepted(header: str) -> list[str]:
    """`Accept-Language` tags, most preferred first (RFC 9110 §12.5.4), as Babel names them."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag.strip().replace("-", "_")))
    return [tag for _, _, tag in sorted(weighted)]
