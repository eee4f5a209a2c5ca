"""The Python API: loading, errors with locations, answers by name and by id, threads."""

import threading
from datetime import datetime, timezone

import pytest

import entitle

NOW = 1_795_255_200  # 2026-11-21T10:00:00Z

POLICY = """
policy "py-test"
feature hd_video
feature ai
limit api_calls : count per day
limit retention : duration
setting sla : percent
setting channel : string
ladder free < pro
tier free {
    limit api_calls = 10_000
    set channel = "forum"
}
tier pro extends free {
    grant hd_video
    limit api_calls = 1_000_000 soft 1_200_000 warn at 80%
    set sla = 99.9%
}
addon promo for free { grant hd_video
 valid from 2026-11-01 until 2026-12-01 }
"""


@pytest.fixture(scope="module")
def engine():
    return entitle.Engine.from_source(POLICY, name="py-test.policy")


def test_version_is_the_crates(repository):
    manifest = (repository / "bindings" / "python" / "Cargo.toml").read_text(encoding="utf-8")
    assert f'version = "{entitle.version()}"' in manifest


def test_a_bad_policy_raises_with_every_diagnostic_and_its_location():
    with pytest.raises(entitle.PolicyError) as raised:
        entitle.Engine.from_source('policy "p"\ntier free { grant sso }\ntier pro extends gold { }\n', name="bad.policy")
    error = raised.value
    assert str(error) == "bad.policy:2:19: error[E004]: unknown feature `sso` (and 1 more error)"
    codes = [(d.code, d.line, d.column) for d in error.diagnostics]
    assert codes == [("E004", 2, 19), ("E007", 3, 18)]
    assert error.diagnostics[0].file == "bad.policy"
    assert error.status == "policy_error"


def test_a_missing_file_is_an_io_error():
    with pytest.raises(entitle.EntitleError) as raised:
        entitle.Engine.from_path("no/such/file.policy")
    assert raised.value.status == "io_error"
    assert not isinstance(raised.value, entitle.PolicyError)


def test_features_by_name_and_by_id(engine):
    pro = engine.request("pro", key="app-42", now=NOW)
    free = engine.request("free", key="app-42", now=NOW)
    assert engine.is_allowed(pro, "hd_video")
    assert engine.decide(free, "hd_video") == entitle.Decision(False, "not_granted")
    hd = engine.feature("hd_video")
    assert isinstance(hd, int)
    assert engine.decide(pro, hd) == entitle.Decision(True, "granted_by_tier")
    assert engine.is_allowed(pro, hd)
    with_promo = engine.request("free", addons=["promo"], now=NOW)
    assert engine.decide(with_promo, hd).reason == "granted_by_addon"
    later = engine.request("free", addons=["promo"], now=datetime(2027, 1, 1, tzinfo=timezone.utc))
    assert engine.decide(later, "hd_video").reason == "addon_not_valid"


def test_unknown_names_and_ids_are_denials_with_a_reason(engine):
    request = engine.request("pro", now=NOW)
    assert engine.decide(request, "4k_video") == entitle.Decision(False, "unknown_feature")
    assert engine.decide(request, 999) == entitle.Decision(False, "unknown_feature")
    assert engine.decide(engine.request("gold", now=NOW), "hd_video") == entitle.Decision(False, "unknown_tier")
    assert engine.decide(engine.request(12345, now=NOW), "hd_video").reason == "unknown_tier"
    assert engine.decide(engine.request("pro", addons=["vip"], now=NOW), "hd_video").reason == "unknown_addon"
    assert engine.feature("4k_video") is None
    assert engine.check_limit(request, "storage").reason == "unknown_limit"


def test_ids_of_another_engine_are_denials_not_its_items(engine):
    other = entitle.Engine.from_source(
        'policy "other"\nfeature hd_video\nfeature ai\ntier pro { grant hd_video, ai }\n', name="other.policy"
    )
    request = engine.request("pro", now=NOW)
    assert engine.is_allowed(request, engine.feature("hd_video"))
    theirs = other.feature("hd_video")
    assert theirs != engine.feature("hd_video")
    assert not engine.is_allowed(request, theirs)
    assert engine.decide(request, theirs) == entitle.Decision(False, "unknown_feature")
    assert engine.decide(engine.request(other.tier("pro"), now=NOW), "hd_video").reason == "unknown_tier"


def test_limits(engine):
    pro = engine.request("pro", now=NOW)
    quota = engine.check_limit(pro, "api_calls", used=990_000, requested=20_000)
    assert quota == entitle.Quota(
        allowed=True,
        reason="overage",
        status="overage",
        limit=1_000_000,
        soft_cap=1_200_000,
        remaining=10_000,
        window=entitle.Window(1_795_219_200, 1_795_305_600),
    )
    assert engine.check_limit(pro, engine.limit("api_calls"), used=800_000).status == "warning"
    not_set = engine.check_limit(pro, "retention")
    assert (not_set.allowed, not_set.reason, not_set.limit, not_set.window) == (False, "limit_not_set", 0, None)
    with pytest.raises(dataclasses_frozen_error()):
        quota.allowed = False


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_settings(engine):
    pro = engine.request("pro", now=NOW)
    assert engine.setting_value(pro, "sla") == entitle.Setting(entitle.SettingKind.PERCENT, 999_000, "99.9%")
    assert engine.setting_value(pro, engine.setting("sla")).display == "99.9%"
    assert engine.setting_value(pro, "channel") == entitle.Setting("text", "forum", '"forum"')
    assert engine.setting_value(engine.request("free", now=NOW), "sla") is None
    with pytest.raises(KeyError):
        engine.setting_value(pro, "uptime")
    with pytest.raises(entitle.QueryError) as raised:
        engine.setting_value(pro, "uptime")
    assert raised.value.reason == entitle.Reason.UNKNOWN_SETTING
    assert "`uptime`" in str(raised.value)


def test_a_percentage_and_a_count_of_the_same_number_differ():
    engine = entitle.Engine.from_source(
        'policy "p"\nsetting sla : percent\nsetting seats : number\ntier pro {\n set sla = 99.9%\n set seats = 999000\n}\n'
    )
    pro = engine.request("pro", now=NOW)
    sla, seats = engine.setting_value(pro, "sla"), engine.setting_value(pro, "seats")
    assert sla.value == seats.value == 999_000
    assert sla != seats
    assert (sla.kind, sla.display) == (entitle.SettingKind.PERCENT, "99.9%")
    assert seats.kind == entitle.SettingKind.NUMBER


def test_explanations_and_json_queries(engine):
    free = engine.request("free", now=NOW)
    why = engine.explain_feature(free, engine.feature("hd_video"))
    assert why["answer"] == {"allowed": False, "reason": "not_granted"}
    assert why["explain"]["upgrade"] == {"addon": "promo", "tier": "pro"}
    assert engine.explain_feature(free, "hd_video") == why
    why = engine.explain_limit(free, engine.limit("api_calls"), used=10_000, requested=1)
    assert why["answer"]["reason"] == "limit_exceeded"
    answer = engine.query_json({"tier": "pro", "now": NOW, "feature": "hd_video"})
    assert answer == {"allowed": True, "reason": "granted_by_tier"}
    assert "error" in engine.query_json("{not json")


def test_explanations_by_name_equal_those_by_id_and_the_json_protocols(engine):
    for tier, addons in [("free", ()), ("free", ("promo",)), ("pro", ()), ("gold", ()), ("pro", ("nope",))]:
        request = engine.request(tier, addons=addons, now=NOW)
        query = {"tier": tier, "addons": list(addons), "now": NOW, "explain": True}
        for feature in ["hd_video", "ai", "no_such_feature"]:
            by_name = engine.explain_feature(request, feature)
            assert by_name["answer"] == engine.query_json({**query, "feature": feature, "explain": False})
            assert by_name["answer"]["reason"] == engine.decide(request, feature).reason
            if engine.feature(feature) is not None:
                assert by_name == engine.explain_feature(request, engine.feature(feature))
        for limit, used, requested in [("api_calls", 990_000, 20_000), ("retention", 0, 0), ("no_such_limit", 1, 0)]:
            by_name = engine.explain_limit(request, limit, used=used, requested=requested)
            assert by_name["answer"] == engine.query_json({**query, "limit": limit, "used": used, "requested": requested, "explain": False})
            if engine.limit(limit) is not None:
                assert by_name == engine.explain_limit(request, engine.limit(limit), used, requested)
    # The rules behind an answer, with the upgrade that would grant it.
    why = engine.explain_limit(engine.request("free", now=NOW), "api_calls", used=10_000, requested=1)
    assert why["answer"]["reason"] == "limit_exceeded" and why["explain"]["steps"]
    assert why["explain"]["upgrade"] == {"tier": "pro"}
    with pytest.raises(TypeError, match="`limit` takes a limit name"):
        engine.explain_limit(engine.request("free", now=NOW), b"api_calls")


def test_requests_check_their_arguments(engine):
    with pytest.raises(ValueError):
        engine.request("pro", billing_anchor=0, now=NOW)
    with pytest.raises(ValueError):
        engine.request("pro", now=datetime(2026, 11, 21))
    assert "tier='pro'" in repr(engine.request("pro", now=NOW))


def test_one_engine_answers_alike_from_many_threads(engine):
    # 16 threads share one engine and one set of requests; each answer must equal the one
    # a single thread got, whatever the interleaving.
    requests = [engine.request(t, key=f"app-{i}", addons=a, now=NOW) for i, (t, a) in enumerate(
        [("pro", ()), ("free", ("promo",)), ("free", ()), ("gold", ())])]
    hd, limit = engine.feature("hd_video"), engine.limit("api_calls")

    def answers():
        out = []
        for i in range(500):
            request = requests[i % len(requests)]
            out.append((engine.is_allowed(request, hd), engine.decide(request, "hd_video"),
                        engine.check_limit(request, limit, used=i * 1_000)))
        return out

    expected = answers()
    results = []
    threads = [threading.Thread(target=lambda: results.append(answers())) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 16
