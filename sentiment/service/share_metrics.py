"""Prometheus gauges of the class shares (``sentiment.service.class_shares``), set by each drift check.

- ``sentiment_class_share{label, bound, source}``: ``bound`` ``estimate``, ``lower`` or ``upper`` (the 90% band);
  ``source`` ``ppi`` (the review sample's prediction-powered interval), ``label_free`` (a label-shift correction the
  fit test did not refute) or ``counted`` (the predicted classes counted). Only the best source's series exist.
- ``sentiment_class_share_reference{label}``: the reference share the band is compared with.
- ``sentiment_class_share_change{label}``: +1 rose, -1 fell, 0 held (the difference's band excludes 0 or not).

Every label value comes from a fixed set. All series are removed when a check gives no reading, so an alert reads
"no data", never a stale share. They are not restored on restart: the next drift check sets them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Gauge

if TYPE_CHECKING:
    from sentiment.service.class_shares import ShareReading

SOURCES = ("ppi", "label_free", "counted")
BOUNDS = ("estimate", "lower", "upper")


class ShareMetrics:
    """The gauges; ``show`` sets them from one reading (or clears them)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.share = Gauge(
            "sentiment_class_share",
            "Estimated share of each class on the newest drift window, with its 90% band (bound) and where it comes "
            "from (source: ppi, label_free or counted).",
            ["label", "bound", "source"],
            registry=registry,
        )
        self.reference = Gauge(
            "sentiment_class_share_reference",
            "The reference's share of each class that the window's share is compared with.",
            ["label"],
            registry=registry,
        )
        self.change = Gauge(
            "sentiment_class_share_change",
            "+1: the class's share rose significantly against the reference (90% band), -1 fell, 0 held.",
            ["label"],
            registry=registry,
        )

    def show(self, reading: ShareReading | None) -> None:
        for gauge in (self.share, self.reference, self.change):
            gauge.clear()
        if reading is None:
            return
        assert reading.source in SOURCES, reading.source
        for label, values in reading.shares.items():
            for bound, value in zip(BOUNDS, values, strict=True):
                self.share.labels(label=label, bound=bound, source=reading.source).set(value)
            self.reference.labels(label=label).set(reading.reference[label])
            self.change.labels(label=label).set(reading.change[label])
