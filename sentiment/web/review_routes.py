"""``/review_sample`` over plain HTTP: the owner lists the random review sample and labels it from a script.

- ``GET /review_sample?state=waiting&limit=50``: rows (oldest first), counts and progress.
- ``GET /review_sample/next``: the oldest row waiting for a label (``item`` null when none waits) and progress.
- ``POST /review_sample`` ``{"id": 12, "label": "negative"}`` labels a row (a correction replaces the label);
  ``{"id": 12, "skip": true}`` sets it aside.
- ``POST /review_sample/bulk`` with a CSV body (``review_id`` or ``prediction_id``, and ``label``): labels in bulk;
  each bad row is reported by reason and row number, and the others are labelled.

Every route needs the admin token in an ``X-Admin-Token`` header (403 otherwise, saying why): the sample's labels feed
the owner's unbiased estimates, so no visitor may read its texts or change its labels. A bad id or label is 422
naming it; a store that is down is 503 with ``Retry-After``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sentiment.errors import AccessDeniedError, ReviewError, StoreUnavailableError
from sentiment.service.serving import SentimentService
from sentiment.web.monitoring_figures import figures_json

ADMIN_HEADER = "X-Admin-Token"
# Module level: the routes' annotations are strings (``from __future__``), resolved in this module's globals.
Token = Annotated[str | None, Header(alias=ADMIN_HEADER)]


class ReviewLabel(BaseModel):
    """One review action: a label for the row ``id``, or ``skip``."""

    model_config = ConfigDict(extra="forbid")
    id: int = Field(ge=1, description="The review id (the 'id' of a listed row).")
    label: str | None = Field(None, description="negative, neutral or positive.")
    skip: bool = Field(False, description="Set the row aside instead of labelling it.")


def add_review_routes(app: FastAPI, service: SentimentService) -> None:
    """Register ``/review_sample`` on ``app`` (before Gradio is mounted at "/")."""

    async def answer(token: str | None, work: Callable[[], Any]) -> JSONResponse:
        try:
            service.check_admin(token)
            body = await run_in_threadpool(work)
        except AccessDeniedError as exc:
            return _error(403, str(exc))
        except ReviewError as exc:
            return _error(422, str(exc))
        except StoreUnavailableError as exc:
            return _error(503, str(exc), {"Retry-After": "5"})
        return JSONResponse(_plain(body))

    @app.get("/review_sample", include_in_schema=True)
    async def list_review_sample(
        x_admin_token: Token = None,
        state: Annotated[str, Query(description="waiting, labelled, skipped or all")] = "waiting",
        limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    ) -> JSONResponse:
        return await answer(x_admin_token, lambda: service.review.listing(state, limit))

    @app.get("/review_sample/next")
    async def next_review_item(x_admin_token: Token = None) -> JSONResponse:
        return await answer(
            x_admin_token,
            lambda: {"item": service.review.next_item(), "progress": service.review.progress().as_dict()},
        )

    @app.post("/review_sample")
    async def label_review_item(action: ReviewLabel, x_admin_token: Token = None) -> JSONResponse:
        def work() -> dict[str, Any]:
            if action.skip:
                return service.review.skip(action.id)
            if action.label is None:
                raise ReviewError("give a label (negative, neutral, positive) or skip: true")
            return service.review.label(action.id, action.label, "api")

        return await answer(x_admin_token, work)

    @app.post("/review_sample/bulk")
    async def import_review_labels(request: Request, x_admin_token: Token = None) -> JSONResponse:
        """The body is a CSV file (``review_id`` or ``prediction_id``, and ``label``): the good rows are labelled,
        each bad row is reported with its reason."""
        body = await request.body()
        limit = service.settings.max_upload_bytes

        def work() -> dict[str, Any]:
            if len(body) > limit:
                raise ReviewError(f"the file is {len(body):,} bytes; the limit is {limit:,} (SENTIMENT_MAX_UPLOAD_MB)")
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "labels.csv"
                path.write_bytes(body)
                return service.review.import_file(path).as_dict()

        return await answer(x_admin_token, work)


def _plain(body: Any) -> Any:
    """The body as plain JSON values (numpy numbers, NaN as null) the way /monitoring writes them."""
    return orjson.loads(figures_json(body))


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)
