"""A rolling limit (`rolling 7 days`): its window is the span that ends at the request's
instant, ``[now - length, now)``, marked `Window.rolling`; a calendar window resets at a
boundary and is not."""

import pytest

import entitle

POLICY = """policy "rolling"
limit calls   : count rolling 7 days
limit daily   : count per day
limit credits : count rolling 24 hours
limit chat    : duration draws credits at 5 per minute
limit seats   : count
tier pro {
    limit calls = 100
    limit daily = 100
    limit credits = 1_000
    limit seats = 5
}
"""
# 2026-11-21T10:00:00Z.
NOW = 1_795_255_200
DAY = 86_400


@pytest.fixture(scope="module")
def engine():
    return entitle.Engine.from_source(POLICY)


def test_a_rolling_window_ends_at_the_request(engine):
    quota = engine.check_limit(engine.request("pro", now=NOW), "calls", used=40, requested=1)
    assert (quota.allowed, quota.remaining) == (True, 60)
    assert quota.window == entitle.Window(NOW - 7 * DAY, NOW, rolling=True)
    assert quota.window.rolling is True
    # It is never aligned: a second later, it ends a second later.
    later = engine.check_limit(engine.request("pro", now=NOW + 1), "calls")
    assert (later.window.start, later.window.end) == (NOW + 1 - 7 * DAY, NOW + 1)


def test_a_calendar_window_resets_and_does_not_roll(engine):
    quota = engine.check_limit(engine.request("pro", now=NOW), "daily", used=40)
    assert quota.window.rolling is False
    assert quota.window.start <= NOW < quota.window.end and quota.window.end - quota.window.start == DAY
    assert engine.check_limit(engine.request("pro", now=NOW), "seats", used=4).window is None


def test_a_drawing_limit_rolls_with_its_pool_even_when_denied(engine):
    request = engine.request("pro", now=NOW)
    # 130 seconds at 5 credits a minute cost 11, and 10 are left.
    quota = engine.check_limit(request, "chat", used=990, requested=130)
    assert (quota.allowed, quota.reason) == (False, entitle.Reason.LIMIT_EXCEEDED)
    assert quota.window == entitle.Window(NOW - DAY, NOW, rolling=True)
    assert engine.check_draw(request, "chat", used=990, requested=130).quota == quota


def test_every_call_that_answers_a_limit_carries_the_flag(engine):
    request = engine.request("pro", now=NOW)
    calls, daily = engine.check_limit_many(request, ["calls", "daily"], used=[40, 40])
    assert (calls.window.rolling, daily.window.rolling) == (True, False)
    assert engine.check_limits(request, ["calls"]).answers[0].window.rolling
    everything = engine.entitlements(request, usage={"calls": 40})
    assert everything.limits["calls"] == calls and not everything.limits["daily"].window.rolling
    # The JSON protocol says the same, only of the rolling window.
    assert engine.query_json({"tier": "pro", "now": NOW, "limit": "calls"})["window"]["rolling"] is True
    assert "rolling" not in engine.query_json({"tier": "pro", "now": NOW, "limit": "daily"})["window"]


def test_a_window_made_in_python_does_not_roll_unless_told():
    assert entitle.Window(0, 10).rolling is False
    assert entitle.Window(0, 10) != entitle.Window(0, 10, rolling=True)
