"""Cron expressions with time zones: the one wrapper around ``croniter``.

Expressions have five fields (minute hour day month weekday), or six with seconds last
(``*/10 * * * * *`` every ten seconds... of every minute), or a nickname (``@hourly``,
``@daily``, ``@weekly``, ``@monthly``, ``@yearly``). They are read in the schedule's time
zone, as wall-clock times:

- a wall time that does not exist (the hour skipped when clocks go forward) fires at the
  same distance past the change (02:30 on a spring-forward night fires at 03:30);
- a wall time that happens twice (the hour repeated when clocks go back) fires once, the
  first time;
- fire times are strictly increasing and never repeat an instant.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

MAX_STEPS = 2000
"""Candidates examined for one fire time (wall times before the current instant are
skipped, at most an hour's worth after a clock change)."""


class CronError(ValueError):
    """The expression or time zone is invalid, or the expression never fires."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError("timezone", f"Unknown time zone {name!r}.") from None


def check(expression: str, timezone: str, *, now_ms: int) -> int:
    """Validate ``expression`` in ``timezone``; its first fire time after ``now_ms``."""
    if not isinstance(expression, str) or not expression.strip() or len(expression) > 200:
        raise CronError("cron", "A cron expression.")
    if not croniter.is_valid(expression):
        raise CronError("cron", f"Not a valid cron expression: {expression!r}.")
    return next_fire(expression, timezone, now_ms)


def next_fire(expression: str, timezone: str, after_ms: int) -> int:
    """The first fire time strictly after ``after_ms`` (ms since the epoch)."""
    tz = zone(timezone)
    local = datetime.fromtimestamp(after_ms / 1000, tz).replace(tzinfo=None)
    try:
        candidates = croniter(expression, local)
        for _ in range(MAX_STEPS):
            wall = candidates.get_next(datetime)
            fire = int(wall.replace(tzinfo=tz).timestamp() * 1000)
            if fire > after_ms:
                return fire
    except (CroniterBadDateError, CroniterBadCronError, OverflowError):
        pass
    raise CronError("cron", f"The expression {expression!r} never fires.")
