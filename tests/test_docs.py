"""The README documents every setting (as Datasette's tests check its documented
settings): a setting added to ``policykb/settings.py`` without a line in the README's
Configuration table fails here."""

from __future__ import annotations

import re

import pytest

from policykb.settings import SETTINGS
from tests.conftest import REPO


def _configuration_section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Configuration\n(.*?)(?=^## )", readme, re.S | re.M)
    assert match, "README.md has no '## Configuration' section"
    return match.group(1)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_every_setting_is_in_the_readme(setting):
    table = _configuration_section()
    assert f"`{setting.env}`" in table, f"{setting.env} is missing from README's Configuration"


def test_the_readme_names_no_setting_that_does_not_exist():
    known = {s.env for s in SETTINGS}
    named = set(re.findall(r"`(POLICYKB_[A-Z_]+)`", _configuration_section()))
    assert named <= known, sorted(named - known)
