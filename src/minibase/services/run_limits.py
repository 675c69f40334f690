"""Per-plan limits of the flow engine: runs at once (more wait in the queue) and runs
started per minute (more are refused with ``quota_exceeded``)."""

from __future__ import annotations

from dataclasses import dataclass

from minibase.domain.plans import Plan


@dataclass(frozen=True, slots=True)
class RunLimits:
    concurrent: int | None
    """Runs of one org executing at once; ``None``: unlimited."""
    per_minute: int | None
    """Runs one org may start in any 60 s; ``None``: unlimited."""


RUN_LIMITS: dict[Plan, RunLimits] = {
    Plan.FREE: RunLimits(concurrent=2, per_minute=60),
    Plan.PRO: RunLimits(concurrent=20, per_minute=1_200),
    Plan.ENTERPRISE: RunLimits(concurrent=None, per_minute=None),
}


def run_limits(plan: str) -> RunLimits:
    return RUN_LIMITS[Plan(plan)]
