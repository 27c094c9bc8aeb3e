"""When a cron fires: its schedule (croniter syntax) read in an IANA timezone, until its end time.

Five fields are ``minute hour day month weekday``; a sixth, trailing field is seconds and a
seventh the year, as croniter (and so langgraph-api) reads them; ``@daily`` and friends work.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from headwater.api.shared.errors import Unprocessable
from headwater.common.db.repository import aware

MAX_SCHEDULE_LENGTH = 255
MAX_TIMEZONE_LENGTH = 64  # the column's size; IANA names are far shorter


def zone(timezone: str | None) -> dt.tzinfo:
    """The zone a schedule is read in: an IANA name, or UTC for None. 422 for an unknown name."""
    if timezone is None:
        return dt.UTC
    try:
        if len(timezone) > MAX_TIMEZONE_LENGTH:
            raise ValueError(timezone)
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: not a file name
        raise Unprocessable(
            f"Invalid timezone: '{timezone}'. Use an IANA timezone name (e.g. 'America/New_York')."
        ) from exc


def next_fire(
    schedule: str,
    timezone: str | None,
    after: dt.datetime,
    end_time: dt.datetime | None = None,
) -> dt.datetime | None:
    """The first time strictly after ``after`` that ``schedule`` matches, in UTC.

    None when that time is past ``end_time``: the cron will not fire again. A schedule that
    cannot be parsed, or that never matches (``0 0 30 2 *``), is a 422.
    """
    local = aware(after).astimezone(zone(timezone))
    if len(schedule) > MAX_SCHEDULE_LENGTH:
        raise Unprocessable(f"Invalid cron schedule: longer than {MAX_SCHEDULE_LENGTH} characters")
    try:
        found: dt.datetime = croniter(schedule, local).get_next(dt.datetime)
    except CroniterError as exc:
        raise Unprocessable(f"Invalid cron schedule '{schedule}': {exc}") from exc
    when = found.astimezone(dt.UTC)
    if end_time is not None and when > aware(end_time):
        return None
    return when
