"""The shipped embedded model serves calibrated scores and the running app's /health says so (the calibration maths
and the predictor's side are in tests/unit/test_calibration.py)."""

from __future__ import annotations

import httpx
import pytest

from appserver import RunningApp

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_shipped_embedded_model_is_calibrated_and_health_says_so(running_app: RunningApp) -> None:
    model = httpx.get(f"{running_app.url}/health", timeout=10).json()["model"]
    # the shipped map keeps every label (temperature scaling); a label-changing map would say "changes labels"
    assert model["calibrated"] is True and "temperature scaling" in model["calibration"]
    assert "changes labels" not in model["calibration"]
    assert "+cal:" in model["revision"]
