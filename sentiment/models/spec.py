"""A model *spec*: the one string that names a model (``auto``, ``embedded``, ``vader``, ``owner/name@rev``, a path)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sentiment.errors import ModelLoadError


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
            raise ModelLoadError("empty model spec; use 'auto', 'embedded', 'vader', a Hub id or a local folder")
        lowered = text.lower()
        if lowered in {"auto", "embedded", "vader"}:
            return cls(kind=lowered, name=lowered)
        if Path(text).expanduser().exists() or text.startswith((".", "/", "~")):
            return cls(kind="local", name=str(Path(text).expanduser()))
        name, _, revision = text.partition("@")
        if name.count("/") != 1 or not all(name.split("/")):
            raise ModelLoadError(
                f"model spec {spec!r} is neither a known name, an existing folder nor a Hub id 'owner/name'"
            )
        return cls(kind="hub", name=name, revision=revision or None)
