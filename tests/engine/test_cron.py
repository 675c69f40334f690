"""Cron fire times in time zones, across daylight-saving changes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from minibase.engine.cron import CronError, check, next_fire

NY = "America/New_York"


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def local(value: int, tz: str = NY) -> str:
    return datetime.fromtimestamp(value / 1000, ZoneInfo(tz)).isoformat()


def fires(expression: str, start: str, count: int, tz: str = NY) -> list[str]:
    out, at = [], ms(start)
    for _ in range(count):
        at = next_fire(expression, tz, at)
        out.append(local(at, tz))
    return out


def test_daily_wall_time_keeps_its_local_hour_across_dst() -> None:
    assert fires("0 9 * * *", "2026-03-07T00:00:00-05:00", 3) == [
        "2026-03-07T09:00:00-05:00",
        "2026-03-08T09:00:00-04:00",
        "2026-03-09T09:00:00-04:00",
    ]
    assert fires("0 9 * * *", "2026-10-31T12:00:00-04:00", 2) == [
        "2026-11-01T09:00:00-05:00",
        "2026-11-02T09:00:00-05:00",
    ]


def test_skipped_wall_time_fires_after_the_change() -> None:
    assert fires("30 2 * * *", "2026-03-07T12:00:00-05:00", 2) == [
        "2026-03-08T03:30:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]


def test_half_hourly_through_spring_forward_never_repeats_an_instant() -> None:
    assert fires("*/30 * * * *", "2026-03-08T00:10:00-05:00", 6) == [
        "2026-03-08T00:30:00-05:00",
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T03:30:00-04:00",
        "2026-03-08T04:00:00-04:00",
    ]


def test_repeated_hour_fires_once() -> None:
    assert fires("30 * * * *", "2026-11-01T00:00:00-04:00", 4) == [
        "2026-11-01T00:30:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T02:30:00-05:00",
        "2026-11-01T03:30:00-05:00",
    ]
    # Asked from inside the second 01:xx hour, the next fire is 02:30, not 01:30 again.
    assert fires("30 * * * *", "2026-11-01T01:10:00-05:00", 1) == ["2026-11-01T02:30:00-05:00"]


def test_seconds_field_and_nicknames() -> None:
    assert next_fire("* * * * * */10", "UTC", ms("2026-01-01T00:00:01+00:00")) == ms(
        "2026-01-01T00:00:10+00:00"
    )
    assert next_fire("@daily", "Europe/Berlin", ms("2026-06-01T12:00:00+02:00")) == ms(
        "2026-06-02T00:00:00+02:00"
    )


@pytest.mark.parametrize(
    ("expression", "tz", "field"),
    [
        ("61 * * * *", "UTC", "cron"),
        ("not cron", "UTC", "cron"),
        ("", "UTC", "cron"),
        ("0 0 31 2 *", "UTC", "cron"),
        ("0 0 * * *", "Mars/Olympus", "timezone"),
        ("0 0 * * *", "../etc/passwd", "timezone"),
    ],
)
def test_invalid(expression: str, tz: str, field: str) -> None:
    with pytest.raises(CronError) as caught:
        check(expression, tz, now_ms=ms("2026-01-01T00:00:00+00:00"))
    assert caught.value.field == field
