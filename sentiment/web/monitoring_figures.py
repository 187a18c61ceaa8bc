"""The monitoring figures as one JSON document: what the ``/monitoring`` Gradio endpoint returns and ``GET
/monitoring`` serves to curl and scrapers, built in one place so the two cannot differ."""

from __future__ import annotations

from typing import Any

import orjson

from sentiment.errors import StoreUnavailableError
from sentiment.service.answer import answer
from sentiment.service.serving import SentimentService
from sentiment.web.ui.monitoring_tables import jobs_frame

HISTORY_SHOWN = 200  # stored drift checks the timeline draws and /monitoring returns (newest; the store keeps more)


def monitoring_figures(service: SentimentService) -> dict[str, Any]:
    """Logged count, the last drift report, the reference in use, the estimate, label mix, jobs, feedback counts,
    the answer card, the newest drift checks and the store's status (``SentimentService.store_status``).

    While the store is unavailable the figures it holds (logged count, label mix, feedback counts, the answer card,
    the drift history) are null and ``store.available`` is false with the reason; what this process keeps in memory
    (the last drift report and estimate, the jobs) is still given."""
    try:
        return _figures(service)
    except StoreUnavailableError:
        monitoring = service.monitoring
        return {
            "logged": None,
            "drift": monitoring.last_report.as_dict() if monitoring.last_report else None,
            "reference_source": None,
            "estimate": monitoring.last_estimate.as_dict() if monitoring.last_estimate else None,
            "label_mix": None,
            "jobs": jobs_frame(service).to_dict(orient="records"),
            "feedback": None,
            "answer": None,
            "drift_history": None,
            "store": service.store_status(),
            "review_sample": service.review.status(),  # counts null while the store is down
        }


def _figures(service: SentimentService) -> dict[str, Any]:
    overview = service.monitoring.overview()
    return {
        "logged": overview.logged,
        "drift": overview.report.as_dict() if overview.report else None,
        "reference_source": service.monitoring.reference_source,
        "estimate": overview.estimate.as_dict() if overview.estimate else None,
        "label_mix": overview.labels.to_dict(orient="records"),
        "jobs": jobs_frame(service).to_dict(orient="records"),
        "feedback": service.feedback.store.counts(),
        "answer": answer(service).as_dict(),
        "drift_history": [record.as_dict() for record in service.monitoring.history.recent(HISTORY_SHOWN)],
        "store": service.store_status(),  # the Monitoring tab's store note says the same in words
        "review_sample": service.review.status(),  # labelled and waiting: the Label tab works them
    }


def figures_json(figures: dict[str, Any]) -> bytes:
    """Strict JSON as Gradio writes it (orjson): NaN and infinities become null, numpy values plain numbers, so
    ``jq`` and ``json.loads`` read the plain route exactly as ``gradio_client`` reads the endpoint."""
    return orjson.dumps(figures, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=str)
