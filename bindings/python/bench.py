"""The same entitlement questions from Python: entitle (by cached ids and by name), cedarpy and
pycasbin, on the plan model of policies/rtc-sdk.policy. Every engine's answers are checked
equal before anything is timed. Prints ns per question (median of rounds), the cost of
`is_allowed` by cached ids alone (a loop of calls with no harness function around each), and
of the batch calls: 100 features of one request in one `decide_many` or `is_allowed_many`
call, by cached ids and by name, and every limit in one `check_limit_many` call.

    .venv/bin/pip install ./bindings/python cedarpy casbin    # a release build of the extension
    .venv/bin/python bindings/python/bench.py

docs/bindings.md records the figures. The peers get the leanest fair model (one rule per granted
pair), built once, outside the timed loop, as in the Rust comparison (compare/).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import entitle

REPOSITORY = Path(__file__).resolve().parents[2]
NOW = 1_795_255_200
ROUNDS = 15


def _declared(path: Path, kind: str) -> list[str]:
    return [line.split()[1] for line in path.read_text(encoding="utf-8").splitlines() if line.startswith(kind + " ")]


def main() -> None:
    engine = entitle.Engine.from_path(REPOSITORY / "policies" / "rtc-sdk.policy")
    tiers = ["free", "pro", "enterprise", "acme_contract"]
    features = _declared(REPOSITORY / "policies" / "rtc-sdk.policy", "feature")
    # A key outside every rollout, so the peers (with no sticky hash) can model plain grants.
    key = next(
        f"app-{i}" for i in range(10_000)
        if all(engine.decide(engine.request("pro", key=f"app-{i}", now=NOW), f).reason != "granted_by_rollout"
               for f in features)
    )
    requests = {t: engine.request(t, key=key, now=NOW) for t in tiers}
    questions = [(t, f) for t in tiers for f in features]
    expected = {(t, f): engine.is_allowed(requests[t], f) for t, f in questions}

    ids = {(t, f): (requests[t], engine.feature(f)) for t, f in questions}

    def entitle_ids(t: str, f: str) -> bool:
        request, feature = ids[(t, f)]
        return engine.is_allowed(request, feature)

    def entitle_names(t: str, f: str) -> bool:
        return engine.decide(requests[t], f).allowed

    def floor(t: str, f: str) -> bool:
        # A precomputed answer: what the loop and the call of a Python function cost alone.
        return expected[(t, f)]

    engines = {
        "dict of answers (the harness's own cost)": floor,
        "entitle (ids)": entitle_ids,
        "entitle (names)": entitle_names,
    }

    try:
        import cedarpy

        permits = []
        for t in tiers:
            granted = [f'Feature::"{f}"' for f in features if expected[(t, f)]]
            if granted:
                permits.append(
                    f'permit(principal == Tier::"{t}", action == Action::"use", resource) '
                    f"when {{ [{', '.join(granted)}].contains(resource) }};"
                )
        policies = cedarpy.PolicySet.from_str("\n".join(permits))
        entities = cedarpy.Entities.from_json_str("[]")
        cedar_requests = {
            (t, f): {"principal": f'Tier::"{t}"', "action": 'Action::"use"', "resource": f'Feature::"{f}"', "context": {}}
            for t, f in questions
        }

        def cedar(t: str, f: str) -> bool:
            return cedarpy.is_authorized(cedar_requests[(t, f)], policies, entities).allowed

        engines["cedarpy"] = cedar
    except ImportError:
        print("cedarpy is not installed; skipped", file=sys.stderr)

    try:
        import casbin

        model = casbin.model.Model()
        model.load_model_from_text(
            "[request_definition]\nr = sub, obj\n[policy_definition]\np = sub, obj\n"
            "[policy_effect]\ne = some(where (p.eft == allow))\n[matchers]\nm = r.sub == p.sub && r.obj == p.obj\n"
        )
        enforcer = casbin.Enforcer(model)
        for t, f in questions:
            if expected[(t, f)]:
                enforcer.add_policy(t, f)

        def pycasbin(t: str, f: str) -> bool:
            return enforcer.enforce(t, f)

        engines["pycasbin"] = pycasbin
    except ImportError:
        print("casbin is not installed; skipped", file=sys.stderr)

    for name, ask in engines.items():
        wrong = [(t, f) for t, f in questions if ask(t, f) != expected[(t, f)]]
        assert not wrong, f"{name} disagrees on {wrong}"

    results = {}
    for name, ask in engines.items():
        repeat = 100 if name in ("cedarpy", "pycasbin") else 2_000
        rounds = []
        for _ in range(ROUNDS):
            start = time.perf_counter_ns()
            for _ in range(repeat):
                for t, f in questions:
                    ask(t, f)
            rounds.append((time.perf_counter_ns() - start) / (repeat * len(questions)))
        results[name] = statistics.median(rounds)

    # The call alone: bound method, prebuilt arguments, nothing but the loop around it.
    is_allowed = engine.is_allowed
    pairs = [ids[q] for q in questions] * 2_000
    assert [is_allowed(r, f) for r, f in pairs[: len(questions)]] == [expected[q] for q in questions]
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        for request, feature in pairs:
            is_allowed(request, feature)
        rounds.append((time.perf_counter_ns() - start) / len(pairs))
    call_alone = statistics.median(rounds)

    # Batch calls: 100 features of one request (the policy's 12, repeated) in one call.
    pro = requests["pro"]
    hundred_names = (features * 9)[:100]
    hundred_ids = [engine.feature(f) for f in hundred_names]
    limit_ids = [engine.limit(name) for name in _declared(REPOSITORY / "policies" / "rtc-sdk.policy", "limit")]
    limit_used = [1_000 * i for i in range(len(limit_ids))]
    assert engine.decide_many(pro, hundred_ids) == [engine.decide(pro, f) for f in hundred_names]
    assert engine.is_allowed_many(pro, hundred_names) == [expected[("pro", f)] for f in hundred_names]
    # Each a bound method and its prebuilt arguments, called with nothing else in the loop.
    batches = {
        "decide_many, 100 features in a FeatureList": (engine.decide_many, (pro, engine.feature_list(hundred_names))),
        "is_allowed_many, 100 features in a FeatureList": (engine.is_allowed_many, (pro, engine.feature_list(hundred_ids))),
        "decide_many, 100 features by cached ids": (engine.decide_many, (pro, hundred_ids)),
        "is_allowed_many, 100 features by cached ids": (engine.is_allowed_many, (pro, hundred_ids)),
        "decide_many, 100 features by name": (engine.decide_many, (pro, hundred_names)),
        f"check_limit_many, {len(limit_ids)} limits by cached ids": (engine.check_limit_many, (pro, limit_ids, limit_used)),
        "entitlements (every feature, limit and setting)": (engine.entitlements, (pro,)),
    }
    batch_results = {}
    for name, (call, arguments) in batches.items():
        rounds = []
        for _ in range(ROUNDS):
            start = time.perf_counter_ns()
            for _ in range(2_000):
                call(*arguments)
            rounds.append((time.perf_counter_ns() - start) / 2_000)
        batch_results[name] = statistics.median(rounds)

    base = results["entitle (ids)"]
    print(f"{len(questions)} questions, {sum(expected.values())} allowed; median of {ROUNDS} rounds")
    print(f"entitle is_allowed by cached ids, the call alone: {call_alone:,.0f} ns")
    print("| engine | ns/question | × entitle (ids) |")
    print("| --- | --- | --- |")
    for name, ns in results.items():
        print(f"| {name} | {ns:,.0f} | {ns / base:.1f}× |")
    print("| batch call | ns/call |")
    print("| --- | --- |")
    for name, ns in batch_results.items():
        print(f"| {name} | {ns:,.0f} |")


if __name__ == "__main__":
    main()
