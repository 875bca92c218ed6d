"""The portal's catalogues: every message the pages use has a Japanese translation."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from broker.portal.i18n import LOCALE_DIR, load_catalogues

ROOT = Path(__file__).resolve().parents[3]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _used_messages() -> set[str]:
    method_map = [
        ("broker/portal/**.py", "python"),
        ("broker/portal/templates/**.html", "jinja2"),
    ]
    found = extract_from_dir(
        str(ROOT), method_map, keywords={"_": None, "gettext": None, "N_": None}
    )
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


def test_every_message_in_the_pages_has_a_japanese_translation() -> None:
    """A message added to a page without a `ja` translation fails here (`make messages`)."""
    with (LOCALE_DIR / "ja" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale="ja")
    translated = {m.id: m.string for m in catalogue if m.id and m.string and not m.fuzzy}
    used = _used_messages()
    assert len(used) > 150
    missing = sorted(used - translated.keys())
    assert not missing, f"untranslated in ja: {missing}"


def test_translations_keep_their_placeholders() -> None:
    """`%(hours)d` and the like survive translation, or formatting would fail at run time."""
    with (LOCALE_DIR / "ja" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale="ja")
    for message in catalogue:
        if message.id and message.string:
            assert sorted(PLACEHOLDER.findall(message.id)) == sorted(
                PLACEHOLDER.findall(message.string)
            ), message.id


def test_the_catalogues_compile_at_start() -> None:
    """The committed `.po` files are all a fresh clone needs: compiled in memory."""
    catalogues = load_catalogues()
    assert catalogues["ja"].gettext("Came") == "来た"
    assert catalogues["ja"].gettext("Not came") == "来ていない"
    assert catalogues["ja"].gettext("Don't know") == "分からない"
    assert catalogues["en"].gettext("Came") == "Came"
