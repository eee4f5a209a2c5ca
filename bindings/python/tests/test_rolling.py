"""A rolling limit (`rolling 7 days`): its window is the span that ends at the request's
instant, ``[now - length, now)``, marked `Window.rolling`; a calendar window resets at a
boundary and is not. The rolling limits are the conformance corpus's (rolling.policy), the
calendar ones the bundled policy's."""

import pytest

import entitle

from conftest import REPOSITORY

# 2026-11-21T10:00:00Z.
NOW = 1_795_255_200
DAY = 86_400


@pytest.fixture(scope="module")
def engine():
    return entitle.Engine.from_path(REPOSITORY / "tests" / "conformance" / "rolling.policy")


def test_a_rolling_window_ends_at_the_request(engine):
    quota = engine.check_limit(engine.request("pro", now=NOW), "d7", used=40, requested=1)
    assert (quota.allowed, quota.remaining) == (True, 60)
    assert quota.window == entitle.Window(NOW - 7 * DAY, NOW, rolling=True)
    assert quota.window.rolling is True
    # It is never aligned: a second later, it ends a second later.
    later = engine.check_limit(engine.request("pro", now=NOW + 1), "d7")
    assert (later.window.start, later.window.end) == (NOW + 1 - 7 * DAY, NOW + 1)


def test_a_calendar_window_resets_and_does_not_roll(rtc_sdk):
    request = rtc_sdk.request("pro", now=NOW)
    quota = rtc_sdk.check_limit(request, "api_calls_per_day", used=40)
    assert quota.window.rolling is False
    assert quota.window.start <= NOW < quota.window.end and quota.window.end - quota.window.start == DAY
    assert rtc_sdk.check_limit(request, "storage").window is None
    assert "rolling" not in rtc_sdk.query_json({"tier": "pro", "now": NOW, "limit": "api_calls_per_day"})["window"]
    # And so on every path that answers many limits: a flag set on every window would show.
    day, second = rtc_sdk.check_limit_many(request, ["api_calls_per_day", "api_calls_per_second"], used=[1, 1])
    assert (day.window.rolling, second.window.rolling) == (False, False)
    assert [q.window.rolling for q in rtc_sdk.check_limits(request, ["api_calls_per_day"], used=[1]).answers] == [False]
    windows = [q.window for q in rtc_sdk.entitlements(request).limits.values() if q.window is not None]
    assert windows and not any(window.rolling for window in windows)


def test_a_drawing_limit_rolls_with_its_pool_even_when_denied(engine):
    request = engine.request("pro", now=NOW)
    # 130 seconds at 5 credits a minute cost 11, and 10 of the pool's 1,000 are left.
    quota = engine.check_limit(request, "chat", used=990, requested=130)
    assert (quota.allowed, quota.reason) == (False, entitle.Reason.LIMIT_EXCEEDED)
    assert quota.window == entitle.Window(NOW - 7 * DAY, NOW, rolling=True)
    assert engine.check_draw(request, "chat", used=990, requested=130).quota == quota


def test_every_call_that_answers_a_limit_carries_the_flag(engine):
    request = engine.request("pro", now=NOW)
    week, day = engine.check_limit_many(request, ["d7", "mins"], used=[40, 60])
    assert (week.window.rolling, day.window.rolling) == (True, True)
    assert day.window == entitle.Window(NOW - DAY, NOW, rolling=True)
    assert engine.check_limits(request, ["d7"], used=[40]).answers[0] == week
    assert engine.entitlements(request, usage={"d7": 40}).limits["d7"] == week
    assert engine.query_json({"tier": "pro", "now": NOW, "limit": "d7"})["window"]["rolling"] is True


def test_a_window_made_in_python_does_not_roll_unless_told():
    assert entitle.Window(0, 10).rolling is False
    assert entitle.Window(0, 10) != entitle.Window(0, 10, rolling=True)
