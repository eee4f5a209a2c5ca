"""A limit that draws on a pool: `check_limit` answers in the pool's terms, and `check_draw`
adds the pool, the request's cost and what is left in the limit's own units."""

import pytest

import entitle

POLICY = """policy "pools"
limit credits : count per month
limit minutes : duration draws credits at 5 per minute
limit seats   : count
tier pro {
    limit credits = 1_000
    limit seats = 5
}
"""
NOW = 1_795_255_200


@pytest.fixture(scope="module")
def engine():
    return entitle.Engine.from_source(POLICY)


def test_a_drawing_limit_is_answered_by_its_pool(engine):
    request = engine.request("pro", now=NOW)
    draw = engine.check_draw(request, "minutes", used=900, requested=30 * 60)
    assert isinstance(draw, entitle.Draw)
    assert (draw.pool, draw.cost, draw.remaining_units) == ("credits", 150, 20 * 60)
    assert not draw.quota.allowed and draw.quota.reason == entitle.Reason.LIMIT_EXCEEDED
    assert draw.quota == engine.check_limit(request, "minutes", used=900, requested=30 * 60)
    assert draw.quota.limit == 1_000 and draw.quota.window is not None
    assert engine.pool("minutes") == "credits" and engine.pool(engine.limit("minutes")) == "credits"


def test_a_limit_that_draws_on_nothing_is_its_own_pool(engine):
    request = engine.request("pro", now=NOW)
    draw = engine.check_draw(request, "seats", used=3, requested=1)
    assert (draw.pool, draw.cost, draw.remaining_units) == ("seats", 1, 2)
    assert engine.pool("seats") is None and engine.pool("nothing") is None


def test_an_unknown_limit_draws_on_no_named_pool(engine):
    draw = engine.check_draw(engine.request("pro", now=NOW), "nothing", used=0, requested=1)
    assert draw.quota.reason == entitle.Reason.UNKNOWN_LIMIT and draw.pool is None


def test_a_refused_request_is_refused_with_the_draw_named(engine):
    draw = engine.check_draw(engine.request("gold", now=NOW), "minutes", requested=60)
    assert draw.quota.reason == entitle.Reason.UNKNOWN_TIER and (draw.pool, draw.cost) == ("credits", 5)


@pytest.mark.parametrize("args", [("minutes", -1, 0), ("minutes", 0, "1"), (3.5, 0, 0)])
def test_wrong_arguments_raise(engine, args):
    limit, used, requested = args
    with pytest.raises((TypeError, ValueError, OverflowError)):
        engine.check_draw(engine.request("pro", now=NOW), limit, used=used, requested=requested)


def test_entitlements_answer_a_drawing_limit_with_its_pools_usage(engine):
    request = engine.request("pro", now=NOW)
    everything = engine.entitlements(request, usage={"credits": 900})
    assert everything.limits["minutes"].remaining == 100 == everything.limits["credits"].remaining
    # Usage given for the drawing limit itself is not read: it has none of its own.
    assert engine.entitlements(request, usage={"credits": 900, "minutes": 0}).limits["minutes"].remaining == 100
