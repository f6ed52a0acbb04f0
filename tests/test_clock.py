"""The time format of every receipt, row and id: fixed width, UTC, whatever was formatted before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pilotgate.clock import rfc3339

aware = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from([UTC, None])
).map(lambda moment: moment if moment.tzinfo else moment.replace(tzinfo=timezone(timedelta(hours=-7))))


@given(st.lists(aware, min_size=1, max_size=6))
def test_matches_isoformat_whatever_came_before(moments: list[datetime]) -> None:
    # The text up to the second is remembered from the previous call: a sequence of calls (same second,
    # another second, an offset that lands on the same UTC second) must each give the exact text.
    for moment in moments:
        utc = moment.astimezone(UTC)
        expected = f"{utc.year:04d}-" + utc.replace(tzinfo=None).isoformat(timespec="microseconds")[5:] + "Z"
        assert rfc3339(moment) == expected


def test_same_second_then_next_second() -> None:
    base = datetime(2026, 11, 25, 10, 0, 59, 999_999, tzinfo=UTC)
    assert rfc3339(base) == "2026-11-25T10:00:59.999999Z"
    assert rfc3339(base.replace(microsecond=0)) == "2026-11-25T10:00:59.000000Z"
    assert rfc3339(base + timedelta(microseconds=1)) == "2026-11-25T10:01:00.000000Z"
    assert rfc3339(datetime(5, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0005-01-02T03:04:05.000000Z"


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        rfc3339(datetime(2026, 1, 1))
