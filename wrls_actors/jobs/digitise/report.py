"""The skipped licences of a digitise run: each named in the log with its reason, counted and summed up in the
run's note, so a run with bad data still succeeds but shows which licences were left for a later run."""

from __future__ import annotations

from ...runtime import StepContext

NOTE_NAMES = 10  # the note names this many skipped licences; the log names them all


class Skipped:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.reasons: list[tuple[str, str]] = []

    def add(self, licence_ref: str, permit_licence_id: int, reason: str) -> None:
        self.reasons.append((licence_ref, reason))
        self.ctx.count("licences_skipped")
        self.ctx.logger.warning("licence %s (permit licence %s) skipped: %s", licence_ref, permit_licence_id, reason)

    def note(self, done: str) -> str:
        if not self.reasons:
            return done
        named = "; ".join(f"{ref}: {reason}" for ref, reason in self.reasons[:NOTE_NAMES])
        more = len(self.reasons) - NOTE_NAMES
        return (
            f"{done}; {len(self.reasons)} licences skipped for bad data ({named}"
            f"{f'; and {more} more, see the log' if more > 0 else ''})"
        )
