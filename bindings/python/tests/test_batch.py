"""Many questions about one request in one call (`is_allowed_many`, `decide_many`,
`check_limit_many`) and the subject's whole entitlement (`entitlements`): each answer equals
the single call's, and `entitlements` equals the JSON protocol's answer to the same query."""

import itertools
from datetime import datetime, timezone

import pytest

import entitle

from conftest import REPOSITORY

NOW = 1_795_255_200
POLICY = REPOSITORY / "policies" / "rtc-sdk.policy"


def declared(kind):
    """The names of `kind` (feature, limit, setting) in the order the policy declares them."""
    lines = POLICY.read_text(encoding="utf-8").splitlines()
    return [line.split()[1] for line in lines if line.startswith(kind + " ")]


FEATURES = declared("feature")
LIMITS = declared("limit")
SETTINGS = declared("setting")

# Tiers and add-on sets that resolve, and requests that every question denies: an unknown tier,
# an unknown add-on, and more add-ons than the engine takes.
ASKED = [
    ("free", ()),
    ("free", ("launch_promo",)),
    ("pro", ()),
    ("pro", ("ai_pack",)),
    ("enterprise", ("ai_pack",)),
    ("acme_contract", ()),
    ("pro", ("launch_promo",)),
    ("gold", ()),
    ("pro", ("no_such_addon",)),
    ("pro", ("ai_pack",) * 33),
]


def requests(engine):
    for (tier, addons), key in itertools.product(ASKED, ["app-1", "app-42"]):
        yield engine.request(tier, key=key, addons=addons, now=NOW)


def test_batches_answer_as_the_single_calls_do(rtc_sdk):
    engine = rtc_sdk
    # Names, ids, an unknown name and ids no engine hands out, in one list.
    features = FEATURES + [engine.feature(name) for name in FEATURES] + ["no_such_feature", -1, 2**40]
    limits = LIMITS + [engine.limit(name) for name in LIMITS] + ["no_such_limit", 2**40]
    used = [i * 250_000 for i in range(len(limits))]
    for request in requests(engine):
        assert engine.is_allowed_many(request, features) == [engine.is_allowed(request, f) for f in features]
        assert engine.decide_many(request, features) == [engine.decide(request, f) for f in features]
        assert engine.check_limit_many(request, limits) == [engine.check_limit(request, l) for l in limits]
        assert engine.check_limit_many(request, limits, used) == [
            engine.check_limit(request, l, used=u) for l, u in zip(limits, used)
        ]


def test_batches_take_any_sequence_and_answer_an_empty_one(rtc_sdk):
    engine = rtc_sdk
    pro = engine.request("pro", now=NOW)
    assert engine.is_allowed_many(pro, ("hd_video", "dedicated_csm")) == [True, False]
    assert engine.is_allowed_many(pro, (name for name in ["hd_video"])) == [True]
    assert engine.decide_many(pro, []) == []
    assert engine.check_limit_many(pro, (), used=()) == []
    quota = engine.check_limit_many(pro, iter(["api_calls_per_day"]), used=iter([990_000]))[0]
    assert quota == engine.check_limit(pro, "api_calls_per_day", used=990_000)


def test_decisions_are_shared_frozen_objects(rtc_sdk):
    engine = rtc_sdk
    pro = engine.request("pro", now=NOW)
    first, second = engine.decide_many(pro, ["hd_video", "hd_video"])
    assert first is second is engine.decide(pro, "hd_video")
    with pytest.raises(AttributeError):
        first.allowed = False


@pytest.mark.parametrize(
    "call,parameter,takes",
    [
        (lambda e, r: e.is_allowed_many(r, "hd_video"), "features", "a str is one name, so give \\[name\\]"),
        (lambda e, r: e.is_allowed_many(r, b"hd_video"), "features", "a sequence of feature names"),
        (lambda e, r: e.decide_many(r, None), "features", "a sequence of feature names \\(str\\) or ids \\(int\\), not NoneType"),
        (lambda e, r: e.decide_many(r, 3), "features", "a sequence of feature names"),
        (lambda e, r: e.decide_many(r, ["hd_video", True]), "features", "items are feature names \\(str\\) or ids \\(int\\), not bool"),
        (lambda e, r: e.is_allowed_many(r, [1.0]), "features", "items are feature names"),
        (lambda e, r: e.check_limit_many(r, "storage"), "limits", "a str is one name"),
        (lambda e, r: e.check_limit_many(r, [b"storage"]), "limits", "items are limit names \\(str\\) or ids \\(int\\), not bytes"),
        (lambda e, r: e.check_limit_many(r, ["storage"], used=5), "used", "a sequence of used counts \\(int\\)"),
        (lambda e, r: e.check_limit_many(r, ["storage"], used="5"), "used", "a sequence of used counts"),
        (lambda e, r: e.check_limit_many(r, ["storage"], used=[1.5]), "used", "a count \\(int\\), not float"),
        (lambda e, r: e.check_limit_many(r, ["storage"], used=[True]), "used", "a count \\(int\\), not bool"),
        (lambda e, r: e.check_limits(r, "storage"), "limits", "a str is one name"),
        (lambda e, r: e.check_limits(r, ["storage"], requested=7), "requested", "a sequence of requested counts \\(int\\)"),
        (lambda e, r: e.check_limits(r, ["storage"], requested=[None]), "requested", "a count \\(int\\), not NoneType"),
        (lambda e, r: e.entitlements(r, usage=[("storage", 1)]), "usage", "a mapping of used counts"),
        (lambda e, r: e.entitlements(r, usage={b"storage": 1}), "usage", "keys are limit names \\(str\\) or ids \\(int\\), not bytes"),
        (lambda e, r: e.entitlements(r, usage={"storage": 1.5}), "usage\\['storage'\\]", "a count \\(int\\), not float"),
        (lambda e, r: e.entitlements(r, usage={"storage": None}), "usage\\['storage'\\]", "a count \\(int\\), not NoneType"),
        (lambda e, r: e.entitlements(object(), None), "request", None),
    ],
)
def test_batches_refuse_wrong_types_by_parameter(rtc_sdk, call, parameter, takes):
    request = rtc_sdk.request("pro", now=NOW)
    if takes is None:
        with pytest.raises(TypeError, match="request"):
            call(rtc_sdk, request)
        return
    with pytest.raises(TypeError, match=f"`{parameter}` takes .*{takes}"):
        call(rtc_sdk, request)


def test_used_is_one_count_for_each_limit_never_truncated(rtc_sdk):
    pro = rtc_sdk.request("pro", now=NOW)
    with pytest.raises(ValueError, match="`used` has 1 items but `limits` has 2"):
        rtc_sdk.check_limit_many(pro, ["storage", "group_size"], used=[1])
    with pytest.raises(ValueError, match="`used` has 3 items but `limits` has 2"):
        rtc_sdk.check_limit_many(pro, ["storage", "group_size"], used=[1, 2, 3])
    with pytest.raises(ValueError, match="not a count"):
        rtc_sdk.check_limit_many(pro, ["storage"], used=[-1])
    with pytest.raises(ValueError, match="not a count"):
        rtc_sdk.entitlements(pro, {"storage": 2**64})


def test_a_request_against_several_limits_answers_each_and_names_the_one_that_binds(rtc_sdk):
    engine = rtc_sdk
    limits = ["ai_minutes_burst", "api_calls_per_day", engine.limit("concurrent_connections"), "no_such_limit"]
    for request in requests(engine):
        for used in ([0, 0, 0, 0], [120, 10, 0, 0], [0, 1_100_000, 9_000, 0]):
            requested = [1, 1, 1, 1]
            batch = engine.check_limits(request, limits, used=used, requested=requested)
            assert isinstance(batch, entitle.LimitBatch)
            assert batch.answers == tuple(
                engine.check_limit(request, l, used=u, requested=r) for l, u, r in zip(limits, used, requested)
            )
            assert batch.allowed == all(q.allowed for q in batch.answers)
            # The unknown limit denies whatever else does, so the first deny is never after it.
            first_deny = next(i for i, q in enumerate(batch.answers) if not q.allowed)
            assert batch.binding == first_deny
            assert batch.binding_answer is batch.answers[batch.binding]
    pro = engine.request("pro", now=NOW)
    allowed = engine.check_limits(pro, ["ai_minutes_burst", "api_calls_per_day"], used=[0, 1_100_000], requested=[1, 1])
    assert allowed.allowed and allowed.binding == 1
    assert allowed.binding_answer.status == entitle.Status.OVERAGE
    empty = engine.check_limits(pro, [])
    assert (empty.allowed, empty.binding, empty.binding_answer, empty.answers) == (True, None, None, ())
    with pytest.raises(ValueError, match="`requested` has 1 items but `limits` has 2"):
        engine.check_limits(pro, ["storage", "group_size"], requested=[1])
    with pytest.raises(AttributeError):
        allowed.binding = 0


def test_batches_answer_only_their_own_engines_requests(rtc_sdk):
    other = entitle.Engine.from_path(POLICY)
    theirs = other.request("pro", now=NOW)
    for call in (
        lambda: rtc_sdk.is_allowed_many(theirs, ["hd_video"]),
        lambda: rtc_sdk.decide_many(theirs, ["hd_video"]),
        lambda: rtc_sdk.check_limit_many(theirs, ["storage"]),
        lambda: rtc_sdk.entitlements(theirs),
    ):
        with pytest.raises(ValueError, match="another engine"):
            call()


def rfc3339(seconds):
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_json(entitlements, engine=None, request=None, usage=None):
    """The typed answer in the JSON protocol's shape, to compare with `query_json`; given the
    engine, the request and the usage, a limit that draws on a pool gets what `check_draw`
    adds in the JSON answer (its pool, the cost of nothing, what is left in its own units)."""

    def quota(q):
        out = {
            "allowed": q.allowed,
            "reason": q.reason,
            "status": q.status,
            "limit": q.limit,
            "soft_cap": q.soft_cap,
            "remaining": q.remaining,
        }
        if q.window is not None:
            out["window"] = {"start": rfc3339(q.window.start), "end": rfc3339(q.window.end)}
            if q.window.rolling:
                out["window"]["rolling"] = True
        return out

    def setting(s):
        if entitlements.reason is not None:
            assert s is None
            return {"allowed": False, "reason": entitlements.reason}
        return {"value": None, "display": None} if s is None else {"value": s.value, "display": s.display}

    def limit(name, q):
        out = quota(q)
        pool = engine.pool(name) if engine is not None else None
        if pool is not None:
            draw = engine.check_draw(request, name, used=(usage or {}).get(pool, 0), requested=0)
            out.update(pool=draw.pool, cost=draw.cost, remaining_units=draw.remaining_units)
        return out

    return {
        "features": {name: {"allowed": d.allowed, "reason": d.reason} for name, d in entitlements.features.items()},
        "limits": {name: limit(name, q) for name, q in entitlements.limits.items()},
        "settings": {name: setting(s) for name, s in entitlements.settings.items()},
    }


USAGES = [
    {},
    {"api_calls_per_day": 990_000, "storage": 10 * 2**30, "concurrent_connections": 99},
    {"api_calls_per_day": 2**63, "ai_minutes": 1, "group_size": 0, "ai_credits": 5_500},
]


@pytest.mark.parametrize("usage", USAGES, ids=["none", "some", "past_limits"])
def test_entitlements_equal_the_json_protocols_answer(rtc_sdk, usage):
    engine = rtc_sdk
    for (tier, addons), key in itertools.product(ASKED, ["app-1", "app-42"]):
        request = engine.request(tier, key=key, addons=addons, now=NOW)
        typed = engine.entitlements(request, usage)
        query = {"tier": tier, "key": key, "addons": list(addons), "now": NOW, "entitlements": True, "usage": usage}
        assert as_json(typed, engine, request, usage) == engine.query_json(query), (tier, addons, key)
        # Declaration order, and each answer the single call's.
        assert (list(typed.features), list(typed.limits), list(typed.settings)) == (FEATURES, LIMITS, SETTINGS)
        assert list(typed.features.values()) == engine.decide_many(request, FEATURES)
        # A limit that draws on a pool is answered with its pool's usage.
        used = [usage.get(engine.pool(l) or l, 0) for l in LIMITS]
        assert list(typed.limits.values()) == engine.check_limit_many(request, LIMITS, used)
        if typed.reason is None:
            assert list(typed.settings.values()) == [engine.setting_value(request, s) for s in SETTINGS]
        else:
            with pytest.raises(entitle.QueryError) as raised:
                engine.setting_value(request, SETTINGS[0])
            assert raised.value.reason == typed.reason


def test_entitlements_take_usage_by_id_and_the_last_key_of_a_limit_wins(rtc_sdk):
    engine = rtc_sdk
    pro = engine.request("pro", now=NOW)
    calls = engine.limit("api_calls_per_day")
    by_id = engine.entitlements(pro, {calls: 990_000})
    assert by_id == engine.entitlements(pro, usage={"api_calls_per_day": 990_000})
    assert by_id.limits["api_calls_per_day"].remaining == 10_000
    assert engine.entitlements(pro, {"api_calls_per_day": 1, calls: 990_000}) == by_id
    assert engine.entitlements(pro) == engine.entitlements(pro, {}) == engine.entitlements(pro, None)
    with pytest.raises(AttributeError):
        by_id.features = {}


@pytest.mark.parametrize("usage", [{"no_such_limit": 1}, {"hd_video": 1}, {2**40: 1}, {-1: 1}])
def test_entitlements_refuse_usage_of_what_is_no_limit(rtc_sdk, usage):
    # As the JSON protocol answers `unknown_usage`, whatever the request.
    for tier in ("pro", "gold"):
        with pytest.raises(entitle.QueryError, match="is not a limit of this policy") as raised:
            rtc_sdk.entitlements(rtc_sdk.request(tier, now=NOW), usage)
        assert raised.value.reason == entitle.Reason.UNKNOWN_LIMIT
        assert isinstance(raised.value, KeyError)
    names = {key: 1 for key in usage if isinstance(key, str)}
    if names:
        query = {"tier": "pro", "now": NOW, "entitlements": True, "usage": names}
        assert rtc_sdk.query_json(query)["code"] == "unknown_usage"


def test_a_refused_request_says_why_in_its_entitlements(rtc_sdk):
    engine = rtc_sdk
    for tier, addons, reason in [
        ("gold", (), entitle.Reason.UNKNOWN_TIER),
        ("pro", ("no_such_addon",), entitle.Reason.UNKNOWN_ADDON),
        ("pro", ("ai_pack",) * 33, entitle.Reason.TOO_MANY_ADDONS),
    ]:
        answer = engine.entitlements(engine.request(tier, addons=addons, now=NOW))
        assert answer.reason == reason
        assert {d.reason for d in answer.features.values()} == {q.reason for q in answer.limits.values()} == {reason}
        assert set(answer.settings.values()) == {None}
    assert engine.entitlements(engine.request("pro", now=NOW)).reason is None


def test_a_feature_list_answers_as_its_features_do(rtc_sdk):
    engine = rtc_sdk
    given = FEATURES + [engine.feature("hd_video"), "no_such_feature", 2**40]
    page = engine.feature_list(given)
    assert len(page) == len(given) and page.features == tuple(given)
    assert engine.feature_list(name for name in given).features == page.features
    assert "FeatureList(('message_recall'" in repr(page)
    for request in requests(engine):
        assert engine.is_allowed_many(request, page) == engine.is_allowed_many(request, given)
        assert engine.decide_many(request, page) == engine.decide_many(request, given)
    with pytest.raises(TypeError, match="`features` takes .*a str is one name"):
        engine.feature_list("hd_video")
    with pytest.raises(TypeError, match="`features` takes .*items are feature names"):
        engine.feature_list([None])
    with pytest.raises(AttributeError):
        page.features = ()
    other = entitle.Engine.from_path(POLICY)
    with pytest.raises(ValueError, match="another engine"):
        other.decide_many(other.request("pro", now=NOW), page)


def test_answers_are_the_dataclasses_they_claim_to_be(rtc_sdk):
    import dataclasses
    import pickle

    pro = rtc_sdk.request("pro", now=NOW)
    quota = rtc_sdk.check_limit(pro, "api_calls_per_day", used=990_000, requested=20_000)
    made = entitle.Quota(
        allowed=True,
        reason=entitle.Reason.OVERAGE,
        status=entitle.Status.OVERAGE,
        limit=1_000_000,
        soft_cap=1_200_000,
        remaining=10_000,
        window=entitle.Window(1_795_219_200, 1_795_305_600),
    )
    assert quota == made and repr(quota) == repr(made) and hash(quota) == hash(made)
    assert vars(quota) == vars(made) and list(vars(quota)) == list(vars(made))
    assert dataclasses.asdict(quota) == dataclasses.asdict(made)
    assert dataclasses.replace(quota, remaining=0).remaining == 0
    assert pickle.loads(pickle.dumps(quota)) == made
    with pytest.raises(dataclasses.FrozenInstanceError):
        quota.remaining = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        quota.window.end = 0
