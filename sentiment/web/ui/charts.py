"""The frames the Monitoring tab's plots draw: traffic as time bars, confidence now against the reference."""

from __future__ import annotations

import math
import time

import pandas as pd

from sentiment.labels import LABELS
from sentiment.service.monitoring import CONFIDENCE_CENTRES

BAR_MINUTES = (1, 5, 10, 15, 30, 60)
MAX_BARS = 48
MIN_BARS = 12  # a fresh app's first minute is one bar among twelve, not one bar across the whole chart
HEADROOM = 1.1  # an axis reaches 10% above its highest value: the tallest bar or line does not touch the frame
MIN_COUNT_TOP = 5  # a count axis reaches at least this: whole-number ticks, never a 0-to-0 axis reading 0.000000
DAY_S = 24 * 3600
TRAFFIC_COLUMNS = ["time (UTC)", "label", "predictions"]
SAMPLES = ("current", "reference")


def traffic_bars(traffic: pd.DataFrame, now: float) -> tuple[pd.DataFrame, int]:
    """Per-minute counts (``bucket`` in epoch seconds, ``label``, ``n``) as ``MIN_BARS`` to ``MAX_BARS`` bars of 1
    to 60 minutes up to ``now``, empty bars included (a gap in traffic must look like one), labelled "HH:MM" in UTC.

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
    first = min(first, last - (MIN_BARS - 1) * width)
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


def count_top(frame: pd.DataFrame, value: str = "predictions", along: str = "time (UTC)") -> int:
    """The top of a count axis: the tallest (stacked) bar with ``HEADROOM``, at least ``MIN_COUNT_TOP``. Given
    explicitly because Gradio keeps the axis of the first data it drew, and an all-zero chart's axis reads 0.000000."""
    if frame.empty or value not in frame:
        return MIN_COUNT_TOP
    tallest = frame.groupby(along)[value].sum().max() if along in frame else frame[value].max()
    return max(MIN_COUNT_TOP, math.ceil(float(tallest) * HEADROOM) if pd.notna(tallest) else 0)


def share_top(lines: pd.DataFrame) -> float:
    """The top of the confidence chart's share axis: the highest share of either sample, with a margin, so no line
    runs off the plot (Gradio keeps the axis of the first data it drew, before the reference existed)."""
    highest = lines["share"].max() if not lines.empty else float("nan")
    return 1.0 if pd.isna(highest) else min(1.0, round(float(highest) * HEADROOM + 0.005, 2))
