from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenward.errors import UsageError
from tokenward.policy import Period, due_at, parse_date, parse_period, status

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
FORTNIGHT = parse_period("14d")


def st_of(rotated_days_ago: int, every: str | None = "90d", expires_in_days: int | None = None) -> str:
    expires = NOW + timedelta(days=expires_in_days) if expires_in_days is not None else None
    return status(
        now=NOW,
        rotated_at=NOW - timedelta(days=rotated_days_ago),
        rotate_every=every,
        expires_at=expires,
        warn_before=FORTNIGHT,
    )


@pytest.mark.parametrize(
    "text, period",
    [("90d", Period(90, "d")), ("12w", Period(12, "w")), ("6mo", Period(6, "mo")),
     ("1y", Period(1, "y")), (" 30D ", Period(30, "d"))],
)  # fmt: skip
def test_parse_period(text, period):
    assert parse_period(text) == period


@pytest.mark.parametrize(
    "text", ["", "90", "d", "0d", "-3d", "1.5y", "3 days", "12x", "99999d", "101y", "1201mo", "5m", "5M", "5min", "5h"]
)
def test_parse_period_refuses(text):
    with pytest.raises(UsageError, match="invalid"):
        parse_period(text)


def test_months_are_calendar_aware():
    jan31 = datetime(2026, 1, 31, tzinfo=timezone.utc)
    assert parse_period("1mo").after(jan31) == datetime(2026, 2, 28, tzinfo=timezone.utc)
    leap = datetime(2024, 2, 29, tzinfo=timezone.utc)
    assert parse_period("1y").after(leap) == datetime(2025, 2, 28, tzinfo=timezone.utc)


def test_status_order():
    assert st_of(10) == "ok"
    assert st_of(80) == "due-soon"  # due in 10 days, within 14
    assert st_of(91) == "overdue"
    assert st_of(91, expires_in_days=-1) == "expired"  # expired beats overdue
    assert st_of(10, expires_in_days=5) == "due-soon"  # expiry close counts too
    assert st_of(10, every=None) == "ok"
    assert st_of(90) == "overdue"  # due exactly now


def test_due_at():
    rotated = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert due_at(rotated, "90d") == datetime(2026, 4, 1, tzinfo=timezone.utc)
    assert due_at(rotated, None) is None


def test_m_is_ambiguous_and_says_what_works():
    with pytest.raises(UsageError, match="months or minutes; write 5mo"):
        parse_period("5m")


def test_periods_recorded_by_earlier_versions_keep_their_meaning():
    from tokenward.policy import stored_period

    assert stored_period("6m") == Period(6, "mo")
    assert due_at(NOW, "6m") == due_at(NOW, "6mo")


@pytest.mark.parametrize(
    "text, moment",
    [
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=timezone.utc)),
        ("2026-01-31T10:00", datetime(2026, 1, 31, 10, 0, tzinfo=timezone.utc)),
        ("2026-01-31 10:00:30", datetime(2026, 1, 31, 10, 0, 30, tzinfo=timezone.utc)),
        ("2026-01-31T10:00+01:00", datetime(2026, 1, 31, 9, 0, tzinfo=timezone.utc)),
        ("2026-01-31T10:00:00Z", datetime(2026, 1, 31, 10, 0, tzinfo=timezone.utc)),
        ("now", NOW),
        ("today", datetime(2026, 6, 15, tzinfo=timezone.utc)),
        ("yesterday", datetime(2026, 6, 14, tzinfo=timezone.utc)),
        ("tomorrow", datetime(2026, 6, 16, tzinfo=timezone.utc)),
        ("+30d", NOW + timedelta(days=30)),
        ("-2w", NOW - timedelta(weeks=2)),
        ("+6mo", datetime(2026, 12, 15, 12, 0, tzinfo=timezone.utc)),
        ("+1y", datetime(2027, 6, 15, 12, 0, tzinfo=timezone.utc)),
    ],
)
def test_parse_date_forms(text, moment):
    assert parse_date(text, now=NOW) == moment


@pytest.mark.parametrize(
    "text",
    ["", "   ", "not a date", "2026-13-45", "99999999999999999999", "2025", "5", "01/02/2025", "1/1/1",
     "31 Jan 2026", "2026-1-5", "20260131", "0001-01-01", "+5m", "+5", "next tuesday", "2026-02-30"],
)  # fmt: skip
def test_parse_date_refuses_guesses_with_an_example(text):
    with pytest.raises(UsageError, match="2026-01-31|longer than zero|5mo|year must be"):
        parse_date(text, now=NOW)


@given(st.integers(min_value=1, max_value=100), st.sampled_from(["d", "w", "mo", "y"]))
def test_period_round_trips(amount, unit):
    period = parse_period(f"{amount}{unit}")
    assert str(period) == f"{amount}{unit}"
    start = datetime(2000, 1, 31, tzinfo=timezone.utc)
    assert period.after(start) > start


@given(st.text(max_size=12))
def test_parse_period_never_crashes(text):
    try:
        period = parse_period(text)
    except UsageError:
        return
    assert period.amount > 0


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(timezone.utc)))
def test_iso_dates_parse_back(moment):
    moment = moment.replace(microsecond=0)
    assert parse_date(moment.isoformat()) == moment


@given(
    rotated=st.integers(min_value=0, max_value=2000),
    every=st.sampled_from(["7d", "90d", "12w", "6mo", "1y"]),
    expires=st.one_of(st.none(), st.integers(min_value=-500, max_value=500)),
)
def test_status_is_consistent(rotated, every, expires):
    result = st_of(rotated, every, expires)
    assert result in ("expired", "overdue", "due-soon", "ok")
    if expires is not None and expires <= 0:
        assert result == "expired"
    elif result == "ok":
        assert due_at(NOW - timedelta(days=rotated), every) > NOW + timedelta(days=14)
