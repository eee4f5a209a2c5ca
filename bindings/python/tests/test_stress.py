"""Long runs that must keep holding: 16 threads asking 100,000 questions each get the answers
one thread got, and two million questions leave the process's memory where the first million
left it. Every kind of question is in the mix: `is_allowed`, `decide`, `check_limit` and
`setting_value` by name and by id, `setting_value` raising `QueryError`, and the batch calls."""

import itertools
import os
import sys
import threading

import pytest

import entitle

from conftest import REPOSITORY

NOW = 1_795_255_200
THREADS = 16
QUERIES = 100_000


def plan(engine):
    """A cycle of questions, each a bound method, its arguments and the answer one thread
    gets; a setting question whose answer is `QueryError` has that exception's reason."""
    text = (REPOSITORY / "policies" / "rtc-sdk.policy").read_text(encoding="utf-8").splitlines()
    features = [line.split()[1] for line in text if line.startswith("feature ")]
    limits = [line.split()[1] for line in text if line.startswith("limit ")]
    settings = [line.split()[1] for line in text if line.startswith("setting ")]
    requests = [
        engine.request(tier, key=f"app-{i}", addons=addons, now=NOW + i * 3_600)
        for i, (tier, addons) in enumerate(
            [("free", ()), ("free", ("launch_promo",)), ("pro", ()), ("pro", ("ai_pack",)),
             ("enterprise", ("ai_pack",)), ("acme_contract", ()), ("gold", ()), ("pro", ("no_such_addon",))]
        )
    ]
    page = engine.feature_list(features)
    questions = []
    for n, request in enumerate(requests):
        for feature in features:
            questions.append((engine.is_allowed, (request, engine.feature(feature))))
            questions.append((engine.decide, (request, feature)))
        for m, limit in enumerate(limits):
            questions.append((engine.check_limit, (request, engine.limit(limit), (n + m) * 100_000, m)))
        for setting in settings:
            questions.append((engine.setting_value, (request, setting)))
        questions.append((engine.is_allowed_many, (request, page)))
        questions.append((engine.decide_many, (request, features)))
        questions.append((engine.check_limit_many, (request, limits, [n * 1_000] * len(limits))))
    questions.append((engine.entitlements, (requests[3], {"api_calls_per_day": 990_000})))
    return [(call, arguments, answer(call, arguments)) for call, arguments in questions]


def answer(call, arguments):
    try:
        return call(*arguments)
    except entitle.QueryError as error:
        return error.reason


def ask(questions, start, count):
    """How many of `count` questions, from `start` on around the cycle, got another answer."""
    wrong = 0
    cycle = itertools.islice(itertools.cycle(questions), start % len(questions), None)
    for call, arguments, expected in itertools.islice(cycle, count):
        if answer(call, arguments) != expected:
            wrong += 1
    return wrong


def test_sixteen_threads_get_the_answers_one_thread_got(rtc_sdk):
    questions = plan(rtc_sdk)
    assert any(isinstance(expected, entitle.Reason) for _, _, expected in questions)
    wrong = [None] * THREADS

    def run(n):
        wrong[n] = ask(questions, n * 997, QUERIES)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == [0] * THREADS


def resident_bytes():
    """The process's resident set size now, from /proc on Linux; elsewhere its peak, which a
    leak raises all the same."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


@pytest.mark.parametrize("million", [1_000_000])
def test_two_million_questions_keep_memory_flat(rtc_sdk, million):
    questions = plan(rtc_sdk)
    assert ask(questions, 0, million) == 0
    after_first = resident_bytes()
    assert ask(questions, million, million) == 0
    after_second = resident_bytes()
    # A leak of one small object a question would be tens of megabytes a million.
    assert after_second - after_first < 2 * 2**20, (after_first, after_second)
