"""What the API refuses and how: every wrong type is a `TypeError` that names the parameter
and what it takes; a request is frozen and answered by its own engine only; a request with
more add-ons than the engine takes answers `too_many_addons` however it is asked; answers
carry enums; and looking names up keeps nothing."""

import gc
import json
import tracemalloc
from datetime import datetime, timedelta, timezone

import pytest

import entitle

NOW = 1_795_255_200

POLICY = """
policy "args"
feature hd_video
limit api_calls : count per day
setting sla : percent
tier free { limit api_calls = 10 }
tier pro extends free {
    grant hd_video
    set sla = 99.9%
}
addon promo for free, pro { }
"""


@pytest.fixture(scope="module")
def engine():
    return entitle.Engine.from_source(POLICY, name="args.policy")


@pytest.mark.parametrize("now", [1.5, -0.5, True, False, "123", b"123", [NOW]])
def test_now_takes_an_int_or_an_aware_datetime_only(engine, now):
    with pytest.raises(TypeError, match="`now` takes Unix seconds \\(int\\) or an aware datetime"):
        engine.request("pro", now=now)


def test_now_as_an_aware_datetime_counts_whole_seconds_toward_the_past(engine):
    at = datetime(2026, 11, 21, 10, 0, 0, 999_999, tzinfo=timezone.utc)
    assert engine.request("pro", now=at).now == NOW
    assert engine.request("pro", now=at.astimezone(timezone(timedelta(hours=-5)))).now == NOW
    before_epoch = datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=timezone.utc)
    assert engine.request("pro", now=before_epoch).now == -1
    with pytest.raises(ValueError, match="aware"):
        engine.request("pro", now=datetime(2026, 11, 21))


@pytest.mark.parametrize(
    "arguments,parameter,takes",
    [
        ({"tier": b"pro"}, "tier", "a tier name \\(str\\) or id \\(int\\), not bytes"),
        ({"tier": None}, "tier", "a tier name"),
        ({"tier": True}, "tier", "a tier name \\(str\\) or id \\(int\\), not bool"),
        ({"tier": "pro", "key": None}, "key", "a subject key \\(str\\), not NoneType"),
        ({"tier": "pro", "key": 42}, "key", "a subject key \\(str\\), not int"),
        ({"tier": "pro", "addons": "promo"}, "addons", "a sequence of add-on names"),
        ({"tier": "pro", "addons": b"promo"}, "addons", "a sequence of add-on names"),
        ({"tier": "pro", "addons": 3}, "addons", "a sequence of add-on names"),
        ({"tier": "pro", "addons": [None]}, "addons", "a sequence whose items are add-on names \\(str\\), ids \\(int\\) or entitle.Held, not NoneType"),
        ({"tier": "pro", "addons": [True]}, "addons", "a sequence whose items .*, not bool"),
        ({"tier": "pro", "billing_anchor": "1"}, "billing_anchor", "a day of the month"),
        ({"tier": "pro", "billing_anchor": True}, "billing_anchor", "a day of the month"),
        ({"tier": "pro", "billing_anchor": None}, "billing_anchor", "a day of the month"),
        ({"tier": "pro", "addons": None}, "addons", "a sequence of add-on names"),
        ({"tier": "pro", "addons": ["promo", entitle.Held("promo", quantity=1.5)]}, "addons\\[1\\].quantity", "a count \\(int\\), not float"),
        ({"tier": "pro", "addons": [entitle.Held("promo", quantity=True)]}, "addons\\[0\\].quantity", "a count \\(int\\), not bool"),
        ({"tier": "pro", "addons": [entitle.Held("promo", quantity=None)]}, "addons\\[0\\].quantity", "a count \\(int\\), not NoneType"),
        ({"tier": "pro", "addons": [entitle.Held("promo", acquired=1.5)]}, "addons\\[0\\].acquired", "Unix seconds \\(int\\) or an aware datetime, not float"),
        ({"tier": "pro", "addons": [entitle.Held("promo", acquired="2026-11-01")]}, "addons\\[0\\].acquired", "Unix seconds \\(int\\) or an aware datetime, not str"),
        ({"tier": "pro", "addons": [entitle.Held(None)]}, "addons\\[0\\].addon", "an add-on name \\(str\\) or id \\(int\\), not NoneType"),
        ({"tier": "pro", "seats": 2.0}, "seats", "a count \\(int\\), not float"),
        ({"tier": "pro", "seats": True}, "seats", "a count \\(int\\), not bool"),
        ({"tier": "pro", "seats": "3"}, "seats", "a count \\(int\\), not str"),
    ],
)
def test_every_wrong_type_of_a_request_names_its_parameter(engine, arguments, parameter, takes):
    tier = arguments.pop("tier")
    with pytest.raises(TypeError, match=f"`{parameter}` takes {takes}"):
        engine.request(tier, now=NOW, **arguments)


def test_every_wrong_type_of_a_question_names_its_parameter(engine):
    request = engine.request("pro", now=NOW)
    with pytest.raises(TypeError, match="`feature` takes a feature name \\(str\\) or id \\(int\\), not bool"):
        engine.decide(request, True)
    with pytest.raises(TypeError, match="`feature` takes"):
        engine.is_allowed(request, True)
    with pytest.raises(TypeError, match="`feature` takes .*, not float"):
        engine.is_allowed(request, 1.0)
    with pytest.raises(TypeError, match="`limit` takes a limit name"):
        engine.check_limit(request, b"api_calls")
    with pytest.raises(TypeError, match="`used` takes a count \\(int\\), not float"):
        engine.check_limit(request, "api_calls", used=1.5)
    with pytest.raises(TypeError, match="`requested` takes a count \\(int\\), not bool"):
        engine.check_limit(request, "api_calls", requested=True)
    with pytest.raises(TypeError, match="`used` takes a count \\(int\\), not NoneType"):
        engine.check_limit(request, "api_calls", used=None)
    with pytest.raises(ValueError, match="`used` is -1"):
        engine.check_limit(request, "api_calls", used=-1)
    with pytest.raises(TypeError, match="`setting` takes a setting name"):
        engine.setting_value(request, None)
    with pytest.raises(TypeError, match="`name` takes a feature name \\(str\\), not int"):
        engine.feature(3)
    with pytest.raises(TypeError, match="`query` takes a JSON query"):
        engine.query_json(3)
    with pytest.raises(TypeError, match="request"):
        engine.decide("pro", "hd_video")


def test_ids_that_no_engine_hands_out_are_unknown_not_errors(engine):
    request = engine.request("pro", now=NOW)
    for made_up in (-1, 2**40, 0):
        assert engine.decide(request, made_up) == entitle.Decision(False, "unknown_feature")
        assert not engine.is_allowed(request, made_up)
    assert engine.decide(engine.request(-1, now=NOW), "hd_video").reason == "unknown_tier"


def test_a_request_is_frozen(engine):
    request = engine.request("free", addons=["promo"], now=NOW)
    for field, value in [("tier", "pro"), ("key", "x"), ("addons", ()), ("billing_anchor", 2), ("now", 0)]:
        with pytest.raises(AttributeError):
            setattr(request, field, value)
    with pytest.raises(AttributeError):
        request.anything = 1
    assert (request.tier, request.addons, request.now) == ("free", ("promo",), NOW)
    assert not engine.is_allowed(request, "hd_video")


def test_a_request_is_answered_by_its_own_engine_only(engine):
    other = entitle.Engine.from_source(POLICY.replace('"args"', '"other"'))
    mine = engine.request("pro", now=NOW)
    theirs = other.request("pro", now=NOW)
    assert other.is_allowed(theirs, "hd_video")
    questions = [
        lambda: engine.is_allowed(theirs, "hd_video"),
        lambda: engine.is_allowed(theirs, engine.feature("hd_video")),
        lambda: engine.decide(theirs, "hd_video"),
        lambda: engine.check_limit(theirs, "api_calls"),
        lambda: engine.setting_value(theirs, "sla"),
        lambda: engine.explain_feature(theirs, "hd_video"),
        lambda: engine.explain_limit(theirs, "api_calls"),
    ]
    for question in questions:
        with pytest.raises(ValueError, match="another engine"):
            question()
    assert engine.is_allowed(mine, "hd_video")


def test_too_many_addons_is_the_answer_by_name_and_by_id(engine):
    request = engine.request("pro", addons=["promo"] * 33, now=NOW)
    hd = engine.feature("hd_video")
    assert engine.decide(request, "hd_video") == entitle.Decision(False, "too_many_addons")
    assert engine.decide(request, hd) == entitle.Decision(False, "too_many_addons")
    assert not engine.is_allowed(request, hd)
    assert not engine.is_allowed(request, "hd_video")
    assert engine.check_limit(request, "api_calls").reason == "too_many_addons"
    with pytest.raises(entitle.QueryError) as raised:
        engine.setting_value(request, "sla")
    assert raised.value.reason == entitle.Reason.TOO_MANY_ADDONS
    assert isinstance(raised.value, KeyError)
    assert engine.explain_feature(request, hd)["answer"] == {"allowed": False, "reason": "too_many_addons"}
    by_json = engine.query_json({"tier": "pro", "now": NOW, "addons": ["promo"] * 33, "setting": "sla"})
    assert by_json == {"allowed": False, "reason": "too_many_addons"}
    # 32 add-ons are within the limit, but one add-on named 32 times is held twice: refused,
    # never stacked.
    held = engine.request("pro", addons=[engine.addon("promo")] * 32, now=NOW)
    assert not engine.is_allowed(held, hd)
    assert engine.decide(held, hd).reason is entitle.Reason.DUPLICATE_ADDON
    with pytest.raises(entitle.QueryError) as raised:
        engine.setting_value(held, "sla")
    assert raised.value.reason == entitle.Reason.DUPLICATE_ADDON
    once = engine.request("pro", addons=["promo"], now=NOW)
    assert engine.is_allowed(once, hd)
    assert engine.setting_value(once, "sla").display == "99.9%"


def test_reasons_and_statuses_are_str_valued_enums(engine):
    request = engine.request("pro", now=NOW)
    decision = engine.decide(request, "hd_video")
    assert decision.reason is entitle.Reason.GRANTED_BY_TIER
    assert decision.reason == "granted_by_tier"
    assert json.dumps({"reason": decision.reason}) == '{"reason": "granted_by_tier"}'
    quota = engine.check_limit(request, "api_calls", used=11)
    assert quota.status is entitle.Status.EXCEEDED
    assert (quota.status, quota.reason) == ("exceeded", "limit_exceeded")
    assert str(quota.reason) == "limit_exceeded"


def test_looking_names_up_keeps_nothing(engine):
    def churn(start):
        for i in range(start, start + 20_000):
            engine.tier(f"tier-{i}")
            engine.decide(engine.request(f"tier-{i}", now=NOW), f"feature-{i}")

    churn(0)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        churn(20_000)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 20,000 cached names would hold over a megabyte; nothing is kept but noise.
    assert grown < 64 * 1024, f"{grown} bytes kept after looking up 20,000 unknown names"


@pytest.mark.parametrize(
    "arguments,message",
    [
        ({"addons": [entitle.Held("promo", quantity=-1)]}, "`addons\\[0\\].quantity` is -1, not a count"),
        ({"addons": [entitle.Held("promo", quantity=2**64)]}, "`addons\\[0\\].quantity` is 18446744073709551616"),
        ({"addons": [entitle.Held("promo", acquired=2**63)]}, "`addons\\[0\\].acquired` is 9223372036854775808, past the range"),
        ({"addons": [entitle.Held("promo", acquired=-(2**63))]}, "`addons\\[0\\].acquired` is -9223372036854775808, past the range"),
        ({"addons": [entitle.Held("promo", acquired=datetime(2026, 11, 1))]}, "`addons\\[0\\].acquired` must be an aware datetime"),
        ({"seats": -1}, "`seats` is -1, not a count"),
        ({"seats": 2**64}, "`seats` is 18446744073709551616, not a count"),
    ],
)
def test_quantities_acquisitions_and_seats_out_of_range_are_value_errors(engine, arguments, message):
    with pytest.raises(ValueError, match=message):
        engine.request("pro", now=NOW, **arguments)


def test_held_addons_in_quantity_and_seats(engine):
    hd, promo = engine.feature("hd_video"), engine.addon("promo")
    held = entitle.Held("promo", quantity=1, acquired=datetime(2026, 11, 1, tzinfo=timezone.utc))
    assert (held.addon, held.quantity, held.acquired) == ("promo", 1, datetime(2026, 11, 1, tzinfo=timezone.utc))
    assert entitle.Held("promo") == entitle.Held("promo", quantity=1, acquired=None)
    with pytest.raises(AttributeError):
        held.quantity = 2
    # One held, by name, by id or as `Held`, answers alike; the request keeps what was given.
    plain = engine.request("pro", addons=["promo"], now=NOW)
    for addons in ([held], [entitle.Held(promo)], [entitle.Held("promo", acquired=NOW - 60)], [promo]):
        request = engine.request("pro", addons=addons, seats=3, now=NOW)
        assert request.addons == tuple(addons) and request.seats == 3
        assert engine.decide(request, hd) == engine.decide(plain, hd)
        assert engine.check_limit(request, "api_calls") == engine.check_limit(plain, "api_calls")
    # A quantity of 0 holds nothing, and is still checked; past the maximum (1) is refused.
    none = engine.request("pro", addons=[entitle.Held("promo", quantity=0)], now=NOW)
    assert engine.is_allowed(none, hd)
    assert engine.decide(engine.request("pro", addons=[entitle.Held("gold", quantity=0)], now=NOW), hd).reason == "unknown_addon"
    two = engine.request("pro", addons=[entitle.Held("promo", quantity=2)], now=NOW)
    assert engine.decide(two, hd) == entitle.Decision(False, entitle.Reason.QUANTITY_ABOVE_MAX)
    assert not engine.is_allowed(two, "hd_video")
    assert engine.check_limit(two, "api_calls").reason is entitle.Reason.QUANTITY_ABOVE_MAX
    assert [d.reason for d in engine.decide_many(two, [hd, "hd_video"])] == ["quantity_above_max"] * 2
    with pytest.raises(entitle.QueryError) as raised:
        engine.setting_value(two, "sla")
    assert raised.value.reason is entitle.Reason.QUANTITY_ABOVE_MAX
    by_json = engine.query_json({"tier": "pro", "now": NOW, "addons": [{"addon": "promo", "quantity": 2}], "feature": "hd_video"})
    assert by_json == {"allowed": False, "reason": "quantity_above_max"}
    # A seat count changes no flat limit, and a quota reports seats only when one was used.
    seated = engine.check_limit(engine.request("pro", seats=10, now=NOW), "api_calls", used=4)
    assert seated.seats is None and seated.remaining == 6
    assert seated == engine.check_limit(engine.request("pro", seats=None, now=NOW), "api_calls", used=4)
    assert seated.window is not None and seated.window.end - seated.window.start == 86_400
    assert engine.request("pro", now=NOW).seats is None
    assert "seats=10" in repr(engine.request("pro", seats=10, now=NOW))
