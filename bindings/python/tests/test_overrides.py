"""Per-customer override sets: checked against an engine from JSON Lines text or a file, with
every problem a `PolicyError` at its record's line; given to `Engine.request` and
`query_json`, and applied by every question (single, batch, whole entitlement, explanation,
JSON); a set checked against another policy answers `overrides_not_for_engine`; and every
argument of the new calls is type-checked."""

import json
from pathlib import Path

import pytest

import entitle

# 2026-12-15T10:00:00Z
NOW = 1_797_328_800

POLICY = """
policy "deals"
feature sso
feature hd_video
limit api_calls : count per day
limit storage : bytes
limit ai_minutes : count per month
setting sla : percent
setting region : string
tier free {
    limit api_calls = 10_000
    limit storage = 5 GiB
    set region = "us"
}
tier pro extends free {
    grant hd_video
    limit api_calls = 1_000_000 soft 1_200_000 warn at 80%
    set sla = 99.9%
}
tier team extends pro {
    limit ai_minutes = 1_000 per seat
}
addon storage_pack for free {
    limit storage += 50 GiB
    max 10
}
"""

RECORDS = """\
# acme: a launch deal, and SSO for December.
{"subject":"acme","limit":"api_calls","op":"=","value":"2_000_000","until":"2027-03-01T00:00:00Z","reason":"launch deal","author":"sales@example.com"}
{"subject":"acme","feature":"sso","op":"grant","from":"2026-12-01T00:00:00Z","until":"2027-01-01T00:00:00Z"}
{"subject":"globex","feature":"hd_video","op":"revoke","reason":"abuse"}
{"subject":"initech","limit":"storage","op":"at_least","value":"100 GiB"}
{"subject":"hooli","limit":"ai_minutes","op":"=","value":2000,"per_seat":true}
{"subject":"hooli","setting":"sla","op":"=","value":"99.99%"}
{"subject":"wayne","limit":"api_calls","op":"=","value":"unlimited"}
"""


@pytest.fixture(scope="module")
def engine():
    return entitle.Engine.from_source(POLICY, name="deals.policy")


@pytest.fixture(scope="module")
def overrides(engine):
    return entitle.Overrides.from_jsonl(engine, RECORDS, name="deals.jsonl")


def test_a_set_reports_its_size_subjects_policy_and_name(engine, overrides):
    assert len(overrides) == 7
    assert overrides.subject_count == 5
    assert overrides.subjects() == ["acme", "globex", "hooli", "initech", "wayne"]
    assert overrides.policy_hash == engine.policy_hash
    assert overrides.name == "deals.jsonl"
    assert "records=7" in repr(overrides) and "subjects=5" in repr(overrides)
    assert entitle.Overrides.from_jsonl(engine, "").name == "<overrides>"
    assert len(entitle.Overrides.from_jsonl(engine, "# nothing yet\n\n")) == 0


def test_records_list_a_subjects_changes_with_their_terms(overrides):
    # Features first: the set keeps a subject's records by what they change, then by start.
    sso, deal = overrides.records("acme")
    assert deal == entitle.OverrideRecord(
        subject="acme",
        op="=",
        limit="api_calls",
        value=2_000_000,
        until=1_803_859_200,
        reason="launch deal",
        author="sales@example.com",
        line=2,
    )
    assert (sso.feature, sso.op, sso.value, sso.from_, sso.until, sso.line) == ("sso", "grant", None, 1_796_083_200, 1_798_761_600, 3)
    (revoke,) = overrides.records("globex")
    assert (revoke.feature, revoke.op, revoke.reason, revoke.author) == ("hd_video", "revoke", "abuse", "")
    minutes, sla = overrides.records("hooli")
    assert (minutes.limit, minutes.value, minutes.per_seat) == ("ai_minutes", 2000, True)
    assert (sla.setting, sla.op, sla.value) == ("sla", "=", entitle.Setting("percent", 999_900, "99.99%"))
    assert overrides.records("wayne")[0].value == entitle.UNLIMITED
    assert overrides.records("nobody") == []


def test_a_grant_a_revoke_a_limit_and_a_setting_apply_to_their_subject_only(engine, overrides):
    acme = engine.request("free", key="acme", now=NOW, overrides=overrides)
    assert acme.overrides is overrides
    assert engine.decide(acme, "sso") == entitle.Decision(True, entitle.Reason.GRANTED_BY_OVERRIDE)
    assert engine.is_allowed(acme, "sso") and engine.is_allowed(acme, engine.feature("sso"))
    other = engine.request("free", key="other", now=NOW, overrides=overrides)
    assert engine.decide(other, "sso") == entitle.Decision(False, entitle.Reason.NOT_GRANTED)
    # The grant ends at its `until`.
    assert engine.decide(engine.request("free", key="acme", now=1_798_761_600, overrides=overrides), "sso").reason == "not_granted"

    globex = engine.request("pro", key="globex", now=NOW, overrides=overrides)
    assert engine.decide(globex, "hd_video") == entitle.Decision(False, entitle.Reason.REVOKED_BY_OVERRIDE)
    assert not engine.is_allowed(globex, "hd_video")
    assert engine.decide(engine.request("pro", key="globex", now=NOW), "hd_video").reason == "granted_by_tier"

    quota = engine.check_limit(engine.request("pro", key="acme", now=NOW, overrides=overrides), "api_calls", used=1_600_000)
    assert (quota.limit, quota.soft_cap, quota.status, quota.overridden) == (2_000_000, 2_200_000, "warning", True)
    plan = engine.check_limit(engine.request("pro", key="acme", now=NOW), "api_calls", used=1_600_000)
    # Without the set the same use is past the plan's soft cap.
    assert (plan.limit, plan.reason, plan.overridden) == (1_000_000, "limit_exceeded", False)

    initech = engine.request("free", key="initech", addons=["storage_pack"], now=NOW, overrides=overrides)
    assert engine.check_limit(initech, "storage").limit == 100 << 30
    wayne = engine.check_limit(engine.request("pro", key="wayne", now=NOW, overrides=overrides), "api_calls", used=10**9)
    assert (wayne.limit, wayne.remaining, wayne.allowed) == (entitle.UNLIMITED, entitle.UNLIMITED, True)

    hooli = engine.request("team", key="hooli", seats=10, now=NOW, overrides=overrides)
    minutes = engine.check_limit(hooli, "ai_minutes")
    assert (minutes.limit, minutes.seats, minutes.overridden) == (20_000, 10, True)
    assert engine.setting_value(hooli, "sla") == entitle.Setting("percent", 999_900, "99.99%")
    assert engine.setting_value(engine.request("team", key="x", now=NOW, overrides=overrides), "sla").display == "99.9%"


def test_a_request_the_plan_refuses_stays_refused(engine, overrides):
    unknown = engine.request("gold", key="acme", now=NOW, overrides=overrides)
    assert engine.decide(unknown, "sso").reason == "unknown_tier"
    twice = engine.request("free", key="initech", addons=["storage_pack", "storage_pack"], now=NOW, overrides=overrides)
    assert engine.check_limit(twice, "storage").reason == "duplicate_addon"


def test_the_batch_calls_entitlements_and_explanations_apply_the_set(engine, overrides):
    acme = engine.request("pro", key="acme", now=NOW, overrides=overrides)
    assert engine.is_allowed_many(acme, ["sso", "hd_video"]) == [True, True]
    assert [d.reason for d in engine.decide_many(acme, engine.feature_list(["sso", "hd_video"]))] == [
        "granted_by_override",
        "granted_by_tier",
    ]
    calls, storage = engine.check_limit_many(acme, ["api_calls", "storage"], used=[10, 0])
    assert (calls.limit, calls.overridden, storage.overridden) == (2_000_000, True, False)

    everything = engine.entitlements(acme, usage={"api_calls": 10})
    assert everything.features["sso"].reason == "granted_by_override"
    assert everything.limits["api_calls"] == calls
    hooli = engine.entitlements(engine.request("team", key="hooli", seats=2, now=NOW, overrides=overrides))
    assert hooli.settings["sla"].display == "99.99%"
    assert hooli.limits["ai_minutes"].limit == 4_000

    why = engine.explain_limit(acme, "api_calls", used=10)
    assert why["answer"]["limit"] == 2_000_000 and why["answer"]["overridden"] is True
    assert any('override for subject `acme`' in step["rule"] and 'reason "launch deal"' in step["rule"] for step in why["explain"]["steps"])
    assert engine.explain_feature(acme, "sso")["answer"] == {"allowed": True, "reason": "granted_by_override"}


def test_query_json_applies_the_set_to_the_querys_key(engine, overrides):
    query = {"tier": "free", "key": "acme", "now": NOW, "feature": "sso"}
    assert engine.query_json(query, overrides=overrides) == {"allowed": True, "reason": "granted_by_override"}
    assert engine.query_json(json.dumps(query), overrides) == {"allowed": True, "reason": "granted_by_override"}
    assert engine.query_json(query) == {"allowed": False, "reason": "not_granted"}
    assert engine.query_json(query, overrides=None) == {"allowed": False, "reason": "not_granted"}
    limit = engine.query_json({"tier": "pro", "key": "acme", "now": NOW, "limit": "api_calls"}, overrides=overrides)
    assert (limit["limit"], limit["overridden"]) == (2_000_000, True)


def test_a_set_for_another_policy_answers_overrides_not_for_engine(engine, overrides):
    # The same names, another policy: the ids line up, the hash does not.
    other = entitle.Engine.from_source(POLICY + "\nfeature extra\n", name="other.policy")
    assert other.policy_hash != overrides.policy_hash
    denied = entitle.Reason.OVERRIDES_NOT_FOR_ENGINE
    acme = other.request("pro", key="acme", now=NOW, overrides=overrides)
    assert other.decide(acme, "sso") == entitle.Decision(False, denied)
    assert other.decide(acme, "hd_video").reason == denied
    assert not other.is_allowed(acme, "hd_video")
    assert other.is_allowed_many(acme, ["hd_video"]) == [False]
    quota = other.check_limit(acme, "api_calls")
    assert (quota.allowed, quota.reason) == (False, denied)
    assert other.check_limit_many(acme, ["api_calls"])[0].reason == denied
    assert other.entitlements(acme).features["hd_video"].reason == denied
    with pytest.raises(entitle.QueryError) as raised:
        other.setting_value(acme, "sla")
    assert raised.value.reason == denied
    assert other.query_json({"tier": "pro", "key": "acme", "now": NOW, "feature": "hd_video"}, overrides=overrides)["reason"] == denied
    # A subject without records in the set answers from the plan, the set unread.
    assert other.decide(other.request("pro", key="nobody", now=NOW, overrides=overrides), "hd_video").reason == "granted_by_tier"


def test_a_bad_record_raises_policy_error_at_its_line(engine):
    text = '# a comment\n{"subject":"acme","feature":"sso","op":"grant"}\n{"subject":"acme","limit":"cals","op":"=","value":5}\n'
    with pytest.raises(entitle.PolicyError) as raised:
        entitle.Overrides.from_jsonl(engine, text, name="bad.jsonl")
    error = raised.value
    assert str(error).startswith("bad.jsonl:3:")
    assert "unknown limit `cals`" in str(error)
    assert error.status == "policy_error"
    (diagnostic,) = error.diagnostics
    assert (diagnostic.file, diagnostic.line, diagnostic.code, diagnostic.severity) == ("bad.jsonl", 3, "E005", "error")
    assert diagnostic.end_line == 3 and diagnostic.end_column > diagnostic.column


def test_every_problem_is_listed_and_malformed_lines_too(engine):
    text = '{"subject":"acme","feature":"ssso","op":"grant"}\nnot json\n{"subject":"acme","limit":"storage","op":"=","value":"3 hours"}\n'
    with pytest.raises(entitle.PolicyError) as raised:
        entitle.Overrides.from_jsonl(engine, text)
    lines = [d.line for d in raised.value.diagnostics]
    assert lines == [1, 2, 3]
    assert all(d.file == "<overrides>" for d in raised.value.diagnostics)
    assert "(and 2 more errors)" in str(raised.value)


def test_a_set_loads_from_a_path(engine, tmp_path):
    path = tmp_path / "deals.jsonl"
    path.write_text(RECORDS, encoding="utf-8")
    for given in (path, str(path)):
        loaded = entitle.Overrides.from_path(engine, given)
        assert (len(loaded), loaded.name) == (7, str(path))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"subject":"acme","feature":"sso","op":"grant"}\n{"subject":"acme","feature":"sso","op":"gift"}\n', encoding="utf-8")
    with pytest.raises(entitle.PolicyError) as raised:
        entitle.Overrides.from_path(engine, bad)
    assert str(raised.value).startswith(f"{bad}:2:")
    assert raised.value.diagnostics[0].line == 2
    with pytest.raises(entitle.EntitleError) as missing:
        entitle.Overrides.from_path(engine, tmp_path / "missing.jsonl")
    assert missing.value.status == "io_error" and not isinstance(missing.value, entitle.PolicyError)
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(entitle.EntitleError) as undecodable:
        entitle.Overrides.from_path(engine, binary)
    assert undecodable.value.status == "invalid_utf8"


def test_the_corpus_set_loads_against_its_policy(repository):
    corpus = repository / "tests" / "conformance"
    engine = entitle.Engine.from_path(corpus / "overrides.policy")
    overrides = entitle.Overrides.from_path(engine, Path(corpus / "overrides.overrides"))
    assert len(overrides) > 0 and overrides.policy_hash == engine.policy_hash


@pytest.mark.parametrize("value", [b"{}", 3, None, ["{}"]])
def test_from_jsonl_takes_text_only(engine, value):
    with pytest.raises(TypeError, match=r"`text` takes JSON Lines override records \(str\), not"):
        entitle.Overrides.from_jsonl(engine, value)


@pytest.mark.parametrize("value", [None, "deals.policy", 3, object()])
def test_the_set_is_checked_against_an_engine_only(value):
    with pytest.raises(TypeError, match=r"`engine` takes an entitle.Engine, not"):
        entitle.Overrides.from_jsonl(value, "")
    with pytest.raises(TypeError, match=r"`engine` takes an entitle.Engine, not"):
        entitle.Overrides.from_path(value, "deals.jsonl")


def test_the_other_arguments_of_overrides_are_type_checked(engine, overrides):
    with pytest.raises(TypeError, match=r"`name` takes a str, not int"):
        entitle.Overrides.from_jsonl(engine, "", name=3)
    with pytest.raises(TypeError, match=r"`path` takes a path"):
        entitle.Overrides.from_path(engine, 3)
    with pytest.raises(TypeError, match=r"`key` takes a subject key \(str\), not NoneType"):
        overrides.records(None)


@pytest.mark.parametrize("value", [RECORDS, {}, [], 1, True])
def test_request_and_query_json_take_an_overrides_set_or_none(engine, value):
    with pytest.raises(TypeError, match=r"`overrides` takes an entitle.Overrides \(or None\), not"):
        engine.request("pro", key="acme", now=NOW, overrides=value)
    with pytest.raises(TypeError, match=r"`overrides` takes an entitle.Overrides \(or None\), not"):
        engine.query_json({"tier": "pro", "now": NOW, "feature": "sso"}, overrides=value)
    assert engine.request("pro", now=NOW, overrides=None).overrides is None


def test_a_set_is_frozen_and_cannot_be_made_directly(overrides):
    with pytest.raises(AttributeError):
        overrides.name = "other"
    with pytest.raises(TypeError):
        entitle.Overrides()
    record = overrides.records("acme")[0]
    with pytest.raises(AttributeError):
        record.op = "+="


def test_a_request_shows_the_set_it_was_given_for_any_key(engine, overrides):
    # A key without records still shows the set: only the questions skip it.
    nobody = engine.request("pro", key="nobody", now=NOW, overrides=overrides)
    assert nobody.overrides is overrides
    assert repr(nobody).endswith(f", overrides={overrides!r})")
    assert "overrides" not in repr(engine.request("pro", key="nobody", now=NOW))
