"""A model *spec*: the one string that names a model (``auto``, ``embedded``, ``vader``, ``owner/name@rev``, a path)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sentiment.errors import ModelLoadError

# The models that ship with the app and load with no network: every menu offers them, in this order.
PACKAGED_MODELS = ("embedded", "vader")
# The names a spec may use besides a Hub id or a folder: ``auto`` picks the Hub model or falls back to ``embedded``.
NAMED_MODELS = ("auto", *PACKAGED_MODELS)


def offered_models(hub_model: str) -> list[str]:
    """The models the app offers by name (the packaged ones, then the configured Hub model), one list for the
    model menus, the evaluation menus and the label values of visitors' evaluation metrics."""
    return [*PACKAGED_MODELS, hub_model]


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec: its kind, the name or folder it points at, and a Hub revision (``owner/name@rev``)."""

    kind: str  # auto | embedded | vader | hub | local
    name: str
    revision: str | None = None

    @classmethod
    def parse(cls, spec: str) -> ModelSpec:
        """Registry names first (any case), then an existing folder or a path-like string, then ``owner/name[@rev]``.

        Raises ``ModelLoadError`` for an empty spec or one that is none of these (e.g. a Hub id without its owner).
        """
        text = spec.strip()
        if not text:
            named = ", ".join(f"'{n}'" for n in NAMED_MODELS)
            raise ModelLoadError(f"empty model spec; use {named}, a Hub id or a local folder")
        lowered = text.lower()
        if lowered in NAMED_MODELS:
            return cls(kind=lowered, name=lowered)
        if Path(text).expanduser().exists() or text.startswith((".", "/", "~")):
            return cls(kind="local", name=str(Path(text).expanduser()))
        name, _, revision = text.partition("@")
        if name.count("/") != 1 or not all(name.split("/")):
            raise ModelLoadError(
                f"model spec {spec!r} is neither a known name, an existing folder nor a Hub id 'owner/name'"
            )
        return cls(kind="hub", name=name, revision=revision or None)
