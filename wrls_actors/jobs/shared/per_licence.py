"""Which licence a per-licence step is about: the child's item, or ``--param licence`` on demand."""

from __future__ import annotations

from ...runtime import PermanentError, StepContext


def licence_of(ctx: StepContext) -> str:
    ref = ctx.item if ctx.item is not None else ctx.params.get("licence")
    if not isinstance(ref, str) or not ref.strip():
        raise PermanentError(f"{ctx.job}: give the licence number, e.g. --param licence=03/28/61/0032")
    return ref.strip()
