"""The Retrain tab and its named endpoints (admin only): start a retrain of the serving model on production labels,
follow its progress, read the challenger's report, promote it or roll back (``sentiment.service.retrain``).

The endpoints are hidden from the public API listing when no admin token is set, as the other admin actions are.
The tab's progress refreshes every 2 s while a job runs (a timer that the Start button turns on and that turns
itself off once the job has ended), so an idle page sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import gradio as gr

from sentiment.service.retrain import RetrainService
from sentiment.service.serving import SentimentService
from sentiment.web.ui.api import PRIVATE, api_endpoint

REFRESH_S = 2.0
STATES = {
    "preparing": "Preparing",
    "training": "Training",
    "judging": "Judging the challenger",
    "finished": "Finished",
    "failed": "Failed",
    "cancelled": "Cancelled",
}


def retrain_markdown(status: dict[str, Any]) -> str:
    """The status in one or two lines: progress while it runs, then the verdict (or why it failed)."""
    state = status.get("state", "idle")
    if state == "idle":
        return "No retrain has run since the app started."
    line = f"**{STATES.get(state, state)}**"
    if status.get("total_steps"):
        line += f": step {status['step']} of {status['total_steps']}"
        if status.get("loss") is not None:
            line += f", loss {status['loss']:.4f}"
        if status.get("eta_s") is not None and status.get("running"):
            line += f", about {status['eta_s']:.0f} s left"
    if status.get("stopped_at_time_limit"):
        line += " (stopped at SENTIMENT_RETRAIN_MAX_SECONDS)"
    if status.get("error"):
        line += f"  \n{status['error']}"
    if status.get("challenger") and status.get("verdict"):
        verdict, reason = status["verdict"], status.get("reason") or ""
        # the reason starts with the verdict ("promote: not worse on ..."): bold that word rather than repeat it
        why = reason[len(verdict) :] if reason.startswith(verdict) else f". {reason}"
        line += f"  \nChallenger `{status['challenger']['run']}`: **{verdict}**{why}"
        if status.get("window"):  # each model's accuracy on the traffic (PPI), or why the sample does not allow it
            line += f"  \n{status['window'][0].upper()}{status['window'][1:]}."
    return line


def retrain_tab(
    service: SentimentService, retrain: RetrainService, wrap: Any, header: tuple[Any, Callable[[], str]] | None = None
) -> None:
    """The Retrain tab (in the tab bar); the endpoints are ``retrain_api``'s. ``header``: the page's model line and
    the function that writes it, rewritten after a promotion or a rollback changes the serving model."""
    admin = service.admin_enabled
    # The handlers' names are not the endpoints' (a private event still takes its function's name as api_name,
    # and /promote would then become /promote_1).

    @wrap
    def tab_view(admin_token: str) -> tuple[str, dict[str, Any], Any]:
        service.check_admin(admin_token)
        status = retrain.status()
        return retrain_markdown(status), status, gr.Timer(active=bool(status["running"]))

    @wrap
    def tab_start(admin_token: str) -> tuple[str, dict[str, Any], Any]:
        retrain.start(admin_token)
        return tab_view(admin_token)

    @wrap
    def tab_cancel(admin_token: str) -> tuple[str, dict[str, Any], Any]:
        retrain.cancel(admin_token)
        return tab_view(admin_token)

    @wrap
    def tab_promote(admin_token: str, force: bool) -> tuple[str, dict[str, Any], Any]:
        promoted = retrain.promote(admin_token, force=bool(force))
        line, status, timer = tab_view(admin_token)
        return f"{line}  \nServing `{promoted['serving']['name']}` now.", status, timer

    @wrap
    def tab_rollback(admin_token: str) -> tuple[str, dict[str, Any], Any]:
        back = retrain.rollback(admin_token)
        line, status, timer = tab_view(admin_token)
        return f"{line}  \nRolled back: serving `{back['serving']['name']}` now.", status, timer

    @wrap
    def tab_publish(admin_token: str, repo: str) -> tuple[str, dict[str, Any], Any]:
        published = retrain.publish(admin_token, repo)
        line, status, timer = tab_view(admin_token)
        return f"{line}  \nPublished `{published['run']}` to {published['url']}.", status, timer

    with gr.Tab("Retrain"):
        gr.Markdown(
            "Fine-tune the serving model on the production labels (accepted feedback with its text, the labelled "
            "review sample); a share of them is held out and judges the challenger against the serving model."
            + ("" if admin else " **Retraining is off: no admin token is set (`SENTIMENT_ADMIN_TOKEN`).**"),
            elem_id="retrain-note",
        )
        with gr.Row():
            token = gr.Textbox(label="Admin token", type="password", elem_id="retrain-token")
            force = gr.Checkbox(label="Promote against a 'keep' verdict", value=False, elem_id="retrain-force")
        with gr.Row():
            kinds: tuple[tuple[str, str, Literal["primary", "secondary", "stop"]], ...] = (
                ("start", "Start retrain", "primary"),
                ("refresh", "Refresh", "secondary"),
                ("cancel", "Cancel", "stop"),
                ("promote", "Promote", "primary"),
                ("rollback", "Roll back", "secondary"),
            )
            buttons = {
                name: gr.Button(text, variant=variant, interactive=admin, elem_id=f"retrain-{name}")
                for name, text, variant in kinds
            }
        with gr.Row():
            repo = gr.Textbox(label="Hub model repository (owner/name)", elem_id="retrain-repo")
            publish_button = gr.Button("Publish to the Hub", interactive=admin, elem_id="retrain-publish", scale=0)
        summary = gr.Markdown(elem_id="retrain-status")
        with gr.Accordion("Status and report (JSON)", open=False):
            details = gr.JSON(label="Retrain status", elem_id="retrain-json")
        timer = gr.Timer(REFRESH_S, active=False)
        outputs = [summary, details, timer]
        options: dict[str, Any] = {"api_visibility": PRIVATE, "show_progress": "hidden"}
        buttons["start"].click(tab_start, token, outputs, **options)
        buttons["refresh"].click(tab_view, token, outputs, **options)
        buttons["cancel"].click(tab_cancel, token, outputs, **options)
        swaps = [
            buttons["promote"].click(tab_promote, [token, force], outputs, **options),
            buttons["rollback"].click(tab_rollback, token, outputs, **options),
        ]
        if header is not None:
            model_line, write = header

            def tab_header() -> str:  # its own name: a private event takes its function's name, /model_info's here
                return write()

            for swap in swaps:
                swap.success(tab_header, None, model_line, **options)
        publish_button.click(tab_publish, [token, repo], outputs, **options)
        timer.tick(tab_view, token, outputs, **options)


def retrain_api(service: SentimentService, retrain: RetrainService, wrap: Any) -> None:
    """The named endpoints (outside the tab bar: a ``gr.api`` between tabs would split it)."""
    visibility = "public" if service.admin_enabled else PRIVATE

    @wrap
    def retrain_start(admin_token: str) -> dict[str, Any]:
        return retrain.start(admin_token)

    @wrap
    def retrain_status(admin_token: str) -> dict[str, Any]:
        service.check_admin(admin_token)
        return retrain.status()

    @wrap
    def retrain_cancel(admin_token: str) -> dict[str, Any]:
        return retrain.cancel(admin_token)

    @wrap
    def challenger_report(admin_token: str) -> dict[str, Any]:
        return retrain.report(admin_token)

    @wrap
    def promote(admin_token: str, force: bool = False) -> dict[str, Any]:
        return retrain.promote(admin_token, force=bool(force))

    @wrap
    def rollback(admin_token: str, to: str = "") -> dict[str, Any]:
        return retrain.rollback(admin_token, to or None)

    @wrap
    def publish_challenger(admin_token: str, repo: str, revision: str = "") -> dict[str, Any]:
        return retrain.publish(admin_token, repo, revision or None)

    described = (
        (retrain_start, "Start retraining the serving model on the production labels (refused below the minimum)."),
        (retrain_status, "The retrain job: state, step, total steps, loss, ETA; the challenger and its verdict."),
        (retrain_cancel, "Cancel the running retrain job (nothing is kept)."),
        (
            challenger_report,
            "The challenger against the serving model on the held-out production labels and on the forgetting test "
            "set, with the verdict and its reason.",
        ),
        (promote, "Serve the challenger and record its lineage (force: against a 'keep' verdict)."),
        (rollback, "Serve the model served before this one again (or `to`, an earlier one)."),
        (
            publish_challenger,
            "Publish the challenger's run to the Hub model repository `repo` (owner/name) with its model card, as "
            "`python -m finetune publish` does; where the Hub cannot be reached it uploads nothing and says so.",
        ),
    )
    returns = {"challenger_report": "report", "promote": "promoted", "rollback": "rolled_back"}
    returns["publish_challenger"] = "published"
    for fn, description in described:
        api_endpoint(
            fn,
            fn.__name__,
            f"{description} Admin token required.",
            returns=[returns.get(fn.__name__, "retrain")],
            api_visibility=visibility,
        )
