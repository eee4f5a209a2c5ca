"""The conformance corpus (tests/conformance/) answered through the typed Python API must
equal the Rust answers (the JSON protocol, through the same library) and the corpus's
expectations. Windows are compared as Unix seconds, with `rolling` where the JSON answer has
it; a setting's answer is its value and its `display` text, and a question `setting_value`
raises `QueryError` for is compared by its reason. A `NAME.overrides` file beside
`NAME.policy` is an override set checked against that policy and applied to every query of
`NAME.jsonl`, through `request(..., overrides=)` and `query_json(..., overrides=)` alike."""

import json
import re
from datetime import datetime, timezone

import pytest

import entitle

from conftest import REPOSITORY

QUERY_FIELDS = {
    "id", "tier", "key", "addons", "seats", "now", "billing_anchor", "feature", "limit", "limits", "setting", "used", "requested", "explain"
}
HELD_FIELDS = {"addon", "quantity", "acquired"}
LIMITS_FIELDS = {"limit", "used", "requested"}

# The instants the JSON protocol accepts: a date, or RFC 3339 in UTC (fraction dropped).
UTC_INSTANT = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:[Zz]|\+00:00))?")


def corpus():
    for policy in sorted((REPOSITORY / "tests" / "conformance").glob("*.policy")):
        lines = policy.with_suffix(".jsonl").read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if line.strip() and not line.startswith("#"):
                yield pytest.param(policy, json.loads(line), id=f"{policy.stem}:{number}")


_engines = {}


def engine_for(policy):
    """The engine of `policy` and the override set beside it (None when it has none)."""
    if policy not in _engines:
        engine = entitle.Engine.from_path(policy)
        beside = policy.with_suffix(".overrides")
        overrides = entitle.Overrides.from_path(engine, beside) if beside.is_file() else None
        _engines[policy] = (engine, overrides)
    return _engines[policy]


def seconds(text):
    match = UTC_INSTANT.fullmatch(text)
    if not match:
        raise ValueError(f"not an instant the protocol accepts: {text}")
    date, hour, minute, second = match.groups()
    midnight = int(datetime.fromisoformat(date).replace(tzinfo=timezone.utc).timestamp())
    hour, minute, second = int(hour or 0), int(minute or 0), int(second or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"not a time of day: {text}")
    return midnight + hour * 3600 + minute * 60 + second


def is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def instant(value):
    """Unix seconds of an instant as the protocol writes it; ValueError for one it rejects."""
    if isinstance(value, str):
        return seconds(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"not an instant: {value!r}")


def held(item):
    """An `addons` item as the typed API takes it: a name, or `entitle.Held` for an object;
    ValueError for an item the protocol rejects."""
    if isinstance(item, str):
        return item
    if not isinstance(item, dict) or set(item) - HELD_FIELDS or not isinstance(item.get("addon"), str):
        raise ValueError(f"not an add-on item: {item!r}")
    quantity = item.get("quantity", 1)
    if not is_count(quantity):
        raise ValueError(f"not a quantity: {quantity!r}")
    acquired = item.get("acquired")
    return entitle.Held(item["addon"], quantity=quantity, acquired=None if acquired is None else instant(acquired))


def typed_answer(engine, query, overrides=None):
    """The query answered through Request, decide, check_limit and setting_value; None when
    the query is one the JSON protocol rejects (the typed API never sees such input)."""
    if set(query) - QUERY_FIELDS or not isinstance(query.get("tier"), str):
        return None
    if not isinstance(query.get("id", ""), (str, int)):
        return None
    now = query.get("now")
    if isinstance(now, str):
        try:
            now = seconds(now)
        except ValueError:
            return None
    if not isinstance(now, int) or isinstance(now, bool):
        return None
    kinds = [k for k in ("feature", "limit", "limits", "setting") if k in query]
    anchor = query.get("billing_anchor", 1)
    if len(kinds) != 1 or not isinstance(anchor, int) or not 1 <= anchor <= 31:
        return None
    # A `seats` of null is refused by the protocol, not taken as absent.
    seats = query.get("seats")
    if "seats" in query and not is_count(seats):
        return None
    try:
        addons = [held(item) for item in query.get("addons", [])]
    except (TypeError, ValueError):
        return None
    try:
        request = engine.request(
            query["tier"], key=query.get("key", ""), addons=addons, seats=seats, billing_anchor=anchor, now=now, overrides=overrides
        )
    except ValueError:
        # An argument the typed API refuses (an acquisition of -2^63, which no instant is):
        # the JSON protocol must refuse it too.
        return None
    kind = kinds[0]
    if kind == "feature":
        decision = engine.decide(request, query["feature"])
        return {"allowed": decision.allowed, "reason": decision.reason}
    if kind == "limit":
        used, requested = query.get("used", 0), query.get("requested", 0)
        q = engine.check_limit(request, query["limit"], used=used, requested=requested)
        return with_draw(engine, request, query["limit"], used, requested, typed_quota(q))
    if kind == "limits":
        items = query["limits"]
        if query.get("explain") or not isinstance(items, list):
            return None
        if any(not isinstance(i, dict) or set(i) - LIMITS_FIELDS or not isinstance(i.get("limit"), str) for i in items):
            return None
        used, requested = ([i.get(field, 0) for i in items] for field in ("used", "requested"))
        if not all(is_count(n) for n in used + requested):
            return None
        batch = engine.check_limits(request, [i["limit"] for i in items], used=used, requested=requested)
        assert batch.allowed == all(q.allowed for q in batch.answers)
        assert batch.binding_answer is (None if batch.binding is None else batch.answers[batch.binding])
        limits = [
            with_draw(engine, request, i["limit"], u, r, typed_quota(q))
            for i, u, r, q in zip(items, used, requested, batch.answers)
        ]
        return {"allowed": batch.allowed, "binding": batch.binding, "limits": limits}
    try:
        setting = engine.setting_value(request, query["setting"])
    except entitle.QueryError as error:
        return {"allowed": False, "reason": error.reason}
    if setting is None:
        return {"value": None, "display": None}
    return {"value": setting.value, "display": setting.display}


def with_draw(engine, request, limit, used, requested, answer):
    """`answer`, for a limit that draws on a pool, with what `check_draw` adds in the JSON
    answer's field names; its quota must be `check_limit`'s."""
    if engine.pool(limit) is None:
        return answer
    draw = engine.check_draw(request, limit, used=used, requested=requested)
    assert typed_quota(draw.quota) == answer, (draw, answer)
    return {**answer, "pool": draw.pool, "cost": draw.cost, "remaining_units": draw.remaining_units}


def typed_quota(q):
    """A typed `Quota` in the shape of the JSON answer, its window in Unix seconds."""
    answer = {
        "allowed": q.allowed,
        "reason": q.reason,
        "status": q.status,
        "limit": q.limit,
        "soft_cap": q.soft_cap,
        "remaining": q.remaining,
    }
    if q.seats is not None:
        answer["seats"] = q.seats
    if q.overridden:
        answer["overridden"] = True
    if q.window is not None:
        answer["window"] = {"start": q.window.start, "end": q.window.end}
        # As in the JSON answer, the window says it rolls only when it does.
        if q.window.rolling:
            answer["window"]["rolling"] = True
    return answer


def normalised(answer):
    answer = dict(answer)
    answer.pop("explain", None)
    # Which held add-ons a limit used is told by the JSON answer and the explanation; the
    # typed answers carry the seat count.
    answer.pop("addons", None)
    if "window" in answer:
        answer["window"] = {k: seconds(v) if k in ("start", "end") else v for k, v in answer["window"].items()}
    if isinstance(answer.get("limits"), list):
        answer["limits"] = [normalised(limit) for limit in answer["limits"]]
    return answer


def contains(expected, actual):
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            (v is None and k not in actual) or (k in actual and contains(v, actual[k])) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(map(contains, expected, actual))
    return expected == actual


@pytest.mark.parametrize("policy,case", list(corpus()))
def test_corpus_case(policy, case):
    engine, overrides = engine_for(policy)
    query = case["query"]
    rust = engine.query_json(query, overrides=overrides)
    assert contains(case["expect"], rust), f"JSON answer {rust} does not meet {case['expect']}"
    if query.get("entitlements") is True or "usage" in query:
        # The typed API answers one question at a time; these are checked as JSON above.
        return
    typed = typed_answer(engine, query, overrides)
    if typed is None:
        assert "error" in rust, "the typed API skipped a query the JSON protocol accepts"
        return
    expected = normalised(rust)
    expected.pop("id", None)
    assert typed == expected


def test_the_corpus_is_large_and_covers_every_reason_and_a_rolling_window():
    cases = list(corpus())
    assert len(cases) > 50
    reasons = set()
    rolling = 0
    for param in cases:
        policy, case = param.values
        engine, overrides = engine_for(policy)
        answer = typed_answer(engine, case["query"], overrides)
        if answer and "reason" in answer:
            assert isinstance(answer["reason"], entitle.Reason)
            reasons.add(answer["reason"])
        if answer and answer.get("window", {}).get("rolling"):
            rolling += 1
    assert rolling > 0, "no corpus case says through Python that a limit's window rolls"
    # A corpus set is checked against the policy beside it, so no case can carry a foreign
    # one: tests/test_overrides.py gives that reason, as the Rust corpus test leaves it to
    # its own.
    reasons.add(entitle.Reason.OVERRIDES_NOT_FOR_ENGINE)
    missing = set(entitle.Reason) - reasons
    assert not missing, f"no corpus case gives {sorted(missing)} through Python"
