"""`council submit --stix-file` refuses a bundle nested too deeply before parsing it."""

from __future__ import annotations

from pathlib import Path

from test_cli_main import SUBMIT, Cli, cli  # noqa: F401 - `cli` is the fixture

from clients.cli.main import EXIT_USAGE


def test_a_stix_file_nested_too_deeply_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    """docs/api.md conventions (bad input says how to fix it): a deep file exits 2, no crash."""
    deep = tmp_path / "deep.json"
    deep.write_text('{"type": "bundle", "objects": [' + "[" * 100_000 + "]" * 100_000 + "]}")
    assert cli(*SUBMIT, "--secret", "--stix-file", str(deep)) == EXIT_USAGE
    assert "levels deep" in cli.err
    assert cli.requests == []


def test_brackets_in_strings_are_not_nesting(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    """docs/api.md conventions: a bundle whose strings hold brackets is sent as it is."""
    fine = tmp_path / "fine.json"
    fine.write_text('{"type": "bundle", "objects": [], "x_note": "' + "[{" * 200 + '\\""}')
    cli(*SUBMIT, "--secret", "--stix-file", str(fine))
    assert "levels deep" not in cli.err
