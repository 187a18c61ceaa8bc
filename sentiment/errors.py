"""The project's domain errors: each says what was wrong with the input and how to fix it."""

from __future__ import annotations


class ModelLoadError(RuntimeError):
    """A model spec that could not be turned into a working model; the message says why and what to do."""


class BatchInputError(ValueError):
    """A file that cannot be scored at all (too large, binary, empty, no such column); says what to change."""


class AccessDeniedError(PermissionError):
    """An admin action without the right token (or with admin actions switched off)."""


class ModelUnavailableError(RuntimeError):
    """The model is still loading, or failed to load; the message says which and why."""
