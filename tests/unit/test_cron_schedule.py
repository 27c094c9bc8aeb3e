"""Cron schedules: next fire times in IANA timezones, end times, errors; a fire's run body."""

from __future__ import annotations

import datetime as dt

import pytest

from headwater.api.crons.records import cron_json, run_body
from headwater.api.crons.schedule import next_fire
from headwater.api.crons.scheduler import fire_run_id
from headwater.api.shared.errors import ApiError, Unprocessable
from headwater.common.db.models import CronRow

pytestmark = pytest.mark.unit
UTC = dt.UTC


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_five_fields_in_utc_by_default() -> None:
    assert next_fire("0 9 * * *", None, at(2026, 3, 7, 12)) == at(2026, 3, 8, 9)
    assert next_fire("*/15 * * * *", None, at(2026, 3, 7, 12, 7, 30)) == at(2026, 3, 7, 12, 15)
    assert next_fire("@daily", None, at(2026, 3, 7, 12)) == at(2026, 3, 8)


def test_next_is_strictly_after() -> None:
    """A scheduler that fires at a due time computes the following one, never the same."""
    assert next_fire("0 9 * * *", None, at(2026, 3, 8, 9)) == at(2026, 3, 9, 9)


def test_timezone_follows_daylight_saving_time() -> None:
    """09:00 in New York is 14:00 UTC in winter and 13:00 UTC from 8 March 2026 (EDT)."""
    assert next_fire("0 9 * * *", "America/New_York", at(2026, 3, 7, 12)) == at(2026, 3, 7, 14)
    assert next_fire("0 9 * * *", "America/New_York", at(2026, 3, 7, 15)) == at(2026, 3, 8, 13)
    assert next_fire("0 9 * * *", "Asia/Kolkata", at(2026, 3, 7, 12)) == at(2026, 3, 8, 3, 30)
    assert next_fire("0 0 * * *", "UTC", at(2026, 3, 7, 12)) == at(2026, 3, 8)
    result = next_fire("0 9 * * *", "Europe/Paris", at(2026, 7, 1))
    assert result == at(2026, 7, 1, 7) and result is not None and result.tzinfo == UTC


def test_weekday_is_read_in_the_cron_timezone() -> None:
    """Monday 00:30 in Tokyo is still Sunday in UTC."""
    monday_tokyo = next_fire("30 0 * * 1", "Asia/Tokyo", at(2026, 3, 7))  # a Saturday
    assert monday_tokyo == at(2026, 3, 8, 15, 30)  # Sunday 15:30 UTC


def test_a_sixth_field_is_seconds() -> None:
    assert next_fire("* * * * * *", None, at(2026, 1, 1, 0, 0, 0)) == at(2026, 1, 1, 0, 0, 1)
    assert next_fire("* * * * * 30", None, at(2026, 1, 1)) == at(2026, 1, 1, 0, 0, 30)


def test_end_time_stops_the_schedule() -> None:
    end = at(2026, 3, 8, 9)
    assert next_fire("0 9 * * *", None, at(2026, 3, 7, 12), end) == end, "inclusive"
    assert next_fire("0 9 * * *", None, at(2026, 3, 8, 9), end) is None
    assert next_fire("0 9 * * *", None, at(2026, 3, 7, 12), at(2026, 3, 8, 8, 59)) is None
    in_new_york = dt.datetime(2026, 3, 7, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert next_fire("0 14 * * *", None, at(2026, 3, 7, 12), in_new_york) == at(2026, 3, 7, 14)


def test_naive_times_are_utc() -> None:
    """SQLite hands back naive datetimes."""
    naive = dt.datetime(2026, 3, 7, 12)
    assert next_fire("0 9 * * *", "America/New_York", naive) == at(2026, 3, 7, 14)
    assert next_fire("0 9 * * *", None, naive, dt.datetime(2026, 3, 8, 8)) is None


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ("", "columns"),
        ("every day", "columns"),
        ("61 * * * *", "out of range"),
        ("* * *", "columns"),
        ("H * * * *", "hash"),
        ("0 0 30 2 *", "failed to find next date"),
        ("* " * 200, "longer than"),
    ],
)
def test_bad_schedules_are_422(schedule: str, reason: str) -> None:
    with pytest.raises(Unprocessable) as error:
        next_fire(schedule, None, at(2026, 1, 1))
    assert error.value.status_code == 422 and reason in error.value.detail
    assert "Invalid cron schedule" in error.value.detail


@pytest.mark.parametrize(
    "timezone", ["Mars/Olympus_Mons", "", "../etc/passwd", "utc", "+02:00", "Europe/" + "x" * 300]
)
def test_bad_timezones_are_422(timezone: str) -> None:
    with pytest.raises(Unprocessable) as error:
        next_fire("0 9 * * *", timezone, at(2026, 1, 1))
    assert error.value.detail.startswith(f"Invalid timezone: '{timezone}'")


def test_fire_run_ids_are_one_per_cron_and_due_time() -> None:
    due = at(2026, 3, 8, 9)
    assert fire_run_id("c1", due) == fire_run_id("c1", due.replace(tzinfo=None)), "SQLite: naive"
    assert fire_run_id("c1", due) != fire_run_id("c1", at(2026, 3, 9, 9))
    assert fire_run_id("c1", due) != fire_run_id("c2", due)


def _cron(**overrides: object) -> CronRow:
    fields: dict[str, object] = {
        "cron_id": "c-1",
        "assistant_id": "a-1",
        "thread_id": None,
        "schedule": "0 9 * * *",
        "timezone": None,
        "end_time": None,
        "next_run_date": at(2026, 3, 8, 9),
        "payload": {
            "assistant_id": "a-1",
            "schedule": "0 9 * * *",
            "input": {"steps": 1},
            "metadata": {"k": "v"},
            "config": {"configurable": {"cron_id": "c-1", "model": "m"}, "tags": ["t"]},
        },
        "metadata_": {"k": "v"},
        "on_run_completed": "delete",
        "enabled": True,
        "auth_user": {},
        "owner": "alice",
        "created_at": at(2026, 3, 7),
        "updated_at": at(2026, 3, 7),
    }
    fields.update(overrides)
    return CronRow(**fields)


def test_a_fire_runs_the_payload_with_the_cron_id() -> None:
    body = run_body(_cron())
    assert body.assistant_id == "a-1" and body.input == {"steps": 1}
    assert body.config == {"configurable": {"model": "m", "cron_id": "c-1"}, "tags": ["t"]}
    assert body.metadata == {"k": "v"} and body.on_completion == "delete"
    assert run_body(_cron(on_run_completed="keep")).on_completion == "keep"


def test_with_a_context_the_cron_id_goes_there() -> None:
    payload = {
        "assistant_id": "a-1",
        "context": {"x": 1},
        "config": {"configurable": {"cron_id": "c-1"}},
    }
    body = run_body(_cron(payload=payload))
    assert body.context == {"x": 1, "cron_id": "c-1"} and "configurable" not in (body.config or {})
    both = {**payload, "config": {"configurable": {"cron_id": "c-1", "model": "m"}}}
    with pytest.raises(ApiError, match="both configurable and context"):
        run_body(_cron(payload=both))


def test_a_bad_stream_mode_is_refused_before_any_fire() -> None:
    with pytest.raises(Unprocessable, match="stream_mode"):
        run_body(_cron(payload={"assistant_id": "a-1", "stream_mode": ["nope"]}))


def test_cron_json_shape_and_select() -> None:
    cron = _cron(end_time=at(2026, 4, 1), next_run_date=None)
    body = cron_json(cron)
    assert set(body) == {
        "cron_id",
        "assistant_id",
        "thread_id",
        "user_id",
        "end_time",
        "schedule",
        "timezone",
        "payload",
        "next_run_date",
        "metadata",
        "on_run_completed",
        "enabled",
        "created_at",
        "updated_at",
    }
    assert body["end_time"] == "2026-04-01T00:00:00+00:00" and body["next_run_date"] is None
    assert body["user_id"] == "alice"
    assert set(cron_json(cron, ["cron_id", "now"])) == {"cron_id", "now"}
