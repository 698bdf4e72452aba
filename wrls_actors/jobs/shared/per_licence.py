"""Which licences a per-licence step is about: the child's item or chunk of items, or ``--param licence``."""

from __future__ import annotations

from ...runtime import PermanentError, StepContext


def licence_of(ctx: StepContext) -> str:
    ref = ctx.item if ctx.item is not None else ctx.params.get("licence")
    if not isinstance(ref, str) or not ref.strip():
        raise PermanentError(f"{ctx.job}: give the licence number, e.g. --param licence=03/28/61/0032")
    return ref.strip()


def licences_of(ctx: StepContext) -> list[str]:
    """A chunked child's licence numbers, each once, in order (the order its locks are taken in)."""
    refs = ctx.items or []
    if not all(isinstance(r, str) and r.strip() for r in refs):
        raise PermanentError(f"{ctx.job}: licence numbers must be non-empty strings, got {refs!r}")
    return sorted({r.strip() for r in refs})
