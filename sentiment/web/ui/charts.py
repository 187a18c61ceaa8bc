"""The frames the Monitoring tab's plots draw: traffic as time bars, confidence now against the reference."""

from __future__ import annotations

import time

import pandas as pd

from sentiment.labels import LABELS
from sentiment.service.monitoring import CONFIDENCE_CENTRES

BAR_MINUTES = (1, 5, 10, 15, 30, 60)
MAX_BARS = 48
DAY_S = 24 * 3600
TRAFFIC_COLUMNS = ["time (UTC)", "label", "predictions"]
SAMPLES = ("current", "reference")


def traffic_bars(traffic: pd.DataFrame, now: float) -> tuple[pd.DataFrame, int]:
    """Per-minute counts (``bucket`` in epoch seconds, ``label``, ``n``) as at most ``MAX_BARS`` bars of 1 to 60
    minutes up to ``now``, empty bars included (a gap in traffic must look like one), labelled "HH:MM" in UTC.

    The labels are text, in time order, because the plot would otherwise write times in the browser's time zone
    and 12-hour clock; text labels need no zone and keep the rows' order (the plot is built with ``sort=None``).
    Every class has rows, zeros included: Gradio fixes a plot's colours and legend from the first data it draws.
    Returns the frame and the bar width in minutes."""
    if traffic.empty:  # no predictions yet, or no prediction log at all: one empty bar at "now"
        traffic = pd.DataFrame({"bucket": pd.Series(dtype=float), "label": pd.Series(dtype=str), "n": 0})
    oldest = float(traffic["bucket"].min()) if not traffic.empty else now
    minutes = next(
        (m for m in BAR_MINUTES if now // (m * 60) - oldest // (m * 60) < MAX_BARS),
        BAR_MINUTES[-1],  # at most 24 bars: the first is cut below to stay within the day
    )
    width = minutes * 60
    last = int(now // width) * width
    first = max(int(oldest // width) * width, last - (DAY_S // width - 1) * width)
    starts = range(first, last + width, width)
    bars = traffic.assign(start=(traffic["bucket"] // width * width).astype(int))
    counts = bars[bars["start"] >= first].groupby(["start", "label"])["n"].sum()
    labels = [*LABELS, *sorted(set(bars["label"]) - set(LABELS))]
    index = pd.MultiIndex.from_product([starts, labels], names=["start", "label"])
    frame = counts.reindex(index, fill_value=0).reset_index()
    frame["time (UTC)"] = [time.strftime("%H:%M", time.gmtime(t)) for t in frame["start"]]
    return frame.rename(columns={"n": "predictions"})[TRAFFIC_COLUMNS], minutes


def confidence_lines(confidence: pd.DataFrame) -> pd.DataFrame:
    """Both samples on every bin; a sample not there yet (no reference before the first drift check, no
    prediction logged) has empty shares. Gradio fixes a plot's colours and legend from the first data it draws,
    so a sample that appeared later would be drawn in the other's colour and left out of the legend."""
    grid = pd.MultiIndex.from_product([SAMPLES, CONFIDENCE_CENTRES], names=["sample", "confidence"])
    shares = (
        confidence.set_index(["sample", "confidence"])["share"]
        if not confidence.empty
        else pd.Series(dtype=float, name="share")
    )
    lines = shares.reindex(grid).reset_index()[["confidence", "share", "sample"]]
    empty = lines.groupby("sample")["share"].transform("sum") == 0  # no predictions: no line rather than one at 0
    return lines.assign(share=lines["share"].mask(empty))
