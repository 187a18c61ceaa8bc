"""The README documents every setting, and its Space front matter matches the pinned Gradio."""

from __future__ import annotations

import re

from conftest import REPO

from sentiment.settings import Settings


def _env_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    choices = getattr(alias, "choices", None)
    return str(choices[0]) if choices else f"SENTIMENT_{field.upper()}"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    missing = [_env_name(f) for f in Settings.model_fields if f"`{_env_name(f)}`" not in readme]
    assert not missing, f"settings missing from README.md: {missing}"


def test_space_front_matter_matches_the_gradio_pin() -> None:
    readme = (REPO / "README.md").read_text()
    front = readme.split("---")[1]
    pin = re.search(r"^gradio==([\d.]+)$", (REPO / "requirements.txt").read_text(), re.M)
    assert pin is not None
    assert f"sdk_version: {pin.group(1)}" in front
    assert 'python_version: "3.11"' in front and "app_file: app.py" in front and "sdk: gradio" in front
