#!/usr/bin/env python3
"""Runs a suite of benches several times and prints each budget beside its figures, as ratios
taken inside one run, with a verdict that holds only if every run meets the budget.

    python3 benches/report.py                  # the query budgets, three runs (about ten minutes)
    python3 benches/report.py --runs 1         # one run, for a quick look
    python3 benches/report.py --suite meter    # the usage meter beside governor, and on Redis
    python3 benches/report.py --suite bundle   # loading a bundle against compiling the source
    python3 benches/report.py --suite overrides  # loading a million override records, and its memory

It reads criterion's own estimates (target/criterion/**/new/estimates.json), prints the machine
as /proc/cpuinfo names it, and writes a Markdown table to standard output for
docs/performance.md. Nothing here asserts a timing: the budgets are judged by reading it.
"""

import argparse
import datetime
import json
import pathlib
import platform
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRITERION = ROOT / "target" / "criterion"
MIX = 4096

# (label, measured bench, baseline bench or None, budget as a ratio or ns, kind)
# kind "ratio": measured / baseline <= budget; "ns": measured <= budget; "over": measured -
# baseline <= budget ns; "times": baseline / measured >= budget (how many times faster).
# A budget of None shows the figure with no verdict.
BUDGETS = [
    ("`is_allowed` by id, mix of 4,096", "mix/features_ids", "mix/features_bitset_floor", 1.5, "ratio"),
    ("`is_allowed` by id, granted", "is_allowed/ids_granted", "is_allowed/bitset_floor", 1.5, "ratio"),
    ("`is_allowed` by id, denied", "is_allowed/ids_denied", "is_allowed/bitset_floor", 1.5, "ratio"),
    ("`is_allowed` by id, via an add-on", "is_allowed/ids_via_addon", "is_allowed/bitset_floor", 1.5, "ratio"),
    ("`is_allowed` by id, rollout", "is_allowed/ids_via_rollout", "is_allowed/bitset_floor", 5.0, "over"),
    ("`is_allowed_by_name` vs hashed bitset, mix", "mix/features_by_name", "mix/features_hashed_bitset", 1.0, "ratio"),
    ("`check_limit_by_name` vs hashed table, mix", "mix/limits_by_name", "mix/limits_hashed_table", 1.0, "ratio"),
    ("`check_limit` by id, two add-ons", "check_limit/ids_two_addons", None, 15.0, "ns"),
    ("`check_limit` by id, two add-ons, monthly window", "check_limit/ids_monthly_anchor_two_addons", None, 15.0, "ns"),
    ("`check_limit` by id, mix of 4,096", "mix/limits_ids", "mix/limits_table_floor", None, "ratio"),
    ("pool query by id vs one `check_limit`", "check_limit/ids_pool", "check_limit/ids_plain", 1.5, "ratio"),
    ("three-limit batch vs one `check_limit`", "check_limit/ids_three_limits_batch", "check_limit/ids_plain", 3.0,
     "ratio"),
    ("three-limit batch vs three `check_limit` calls", "check_limit/ids_three_limits_batch",
     "check_limit/ids_three_limits_loop", None, "ratio"),
]


METER = [
    ("`try_consume`, uncontended", "meter/try_consume_uncontended", None, 50.0, "ns"),
    ("`try_consume` vs governor, uncontended", "meter/try_consume_uncontended",
     "meter/governor check_key_uncontended", None, "ratio"),
    ("`try_consume` vs governor, 2 threads, one key", "meter/try_consume_2 threads, one key",
     "meter/governor check_key_2 threads, one key", None, "ratio"),
    ("`try_consume` vs governor, 2 threads, two keys", "meter/try_consume_2 threads, two keys",
     "meter/governor check_key_2 threads, two keys", None, "ratio"),
    ("pool `try_consume` paid by one of two grants vs plain", "meter/try_consume_pool, from two grants",
     "meter/try_consume_uncontended", 2.0, "ratio"),
    ("rolling `try_consume` (24 hours in 64 buckets) vs plain", "meter/try_consume_rolling",
     "meter/try_consume_uncontended", None, "ratio"),
    ("`check_limit` alone (the engine's part)", "meter/check_limit (engine alone)", None, None, "ns"),
    ("`try_consume` reading `SystemTime::now()`", "meter/try_consume_uncontended, reading the clock", None, None, "ns"),
    ("Redis `try_consume`, one caller", "meter on redis/try_consume_one caller", None, None, "ns"),
    ("Redis `try_consume`, four callers (per four calls)", "meter on redis/try_consume_4 callers", None, None, "ns"),
    ("Redis rolling `try_consume` (65 buckets read) vs plain, one caller", "meter on redis/try_consume_rolling, one caller",
     "meter on redis/try_consume_one caller", None, "ratio"),
    ("Leased `try_consume` (a lease covers it) vs in-process", "meter on redis/try_consume_leased, one caller",
     "meter/try_consume_uncontended", 2.0, "ratio"),
    ("Leased `try_consume`, one caller (1 M calls/s is 1,000 ns)", "meter on redis/try_consume_leased, one caller",
     None, 1000.0, "ns"),
    ("Leased `try_consume`, four callers (per four calls)", "meter on redis/try_consume_leased, 4 callers",
     None, None, "ns"),
    ("Redis Cluster `try_consume`, one caller", "meter on redis cluster/try_consume_one caller", None, None, "ns"),
]

BUNDLE = [
    (f"`from_bundle` vs `from_source`, {name}", f"pipeline/from_bundle_{name}", f"pipeline/from_source_{name}", 10.0, "times")
    for name in ["rtc-sdk", "api-gateway", "team-workspace", "generated_10x1000x100", "generated_100x1000x100",
                 "generated_1000x1000x100"]
]

OVERRIDES = [
    ("one million override records, from text", "overrides/load_1m_records", None, 1e9, "ns"),
    ("one million override records, from a file", "overrides/load_1m_records_from_a_file", None, 1e9, "ns"),
]

# suite: (cargo bench arguments before the filter, default filter, budgets)
SUITES = {
    "overrides": (["--bench", "overrides"], "overrides", OVERRIDES),
    "queries": (["--bench", "queries"], "mix|is_allowed|check_limit", BUDGETS),
    "meter": (["-p", "entitle-runtime", "--bench", "meter"], "meter", METER),
    "bundle": (["--bench", "pipeline"], "from_", BUNDLE),
}


def show(ns):
    """A duration in the unit that reads best."""
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e4:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.2f} ns"


def median_ns(bench):
    """The median time of one iteration, per question for the mix benches."""
    path = CRITERION / bench / "new" / "estimates.json"
    value = json.loads(path.read_text())["median"]["point_estimate"]
    return value / MIX if bench.startswith("mix/") else value


def machine():
    model, cores = "unknown CPU", 0
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
            if line.startswith("processor"):
                cores += 1
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{model}, {cores} logical CPUs, {platform.system()} {platform.release()}, {rustc}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="queries")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--filter", help="criterion's filter (default: the suite's)")
    parser.add_argument("--no-run", action="store_true", help="report the last run's estimates only")
    args = parser.parse_args()
    bench_args, default_filter, budgets = SUITES[args.suite]
    bench_filter = args.filter or default_filter
    command = ["cargo", "bench", *bench_args, "--", bench_filter]
    runs = []
    for run in range(1 if args.no_run else args.runs):
        if not args.no_run:
            print(f"run {run + 1} of {args.runs}…", file=sys.stderr)
            subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        figures = {}
        for _, bench, baseline, _, _ in budgets:
            for name in filter(None, [bench, baseline]):
                try:
                    figures[name] = median_ns(name)
                except (OSError, KeyError, ValueError):
                    figures[name] = None
        runs.append(figures)

    print(f"Machine: {machine()}. Date: {datetime.date.today().isoformat()}. "
          f"{len(runs)} run(s) of `{' '.join(command[:-1])} '{bench_filter}'`; "
          "criterion medians" + (", per question for the mixes" if args.suite == "queries" else "") + ".\n")
    print("| path | budget | " + " | ".join(f"run {i + 1}" for i in range(len(runs))) + " | verdict |")
    print("| --- | --- | " + " | ".join("---" for _ in runs) + " | --- |")
    for label, bench, baseline, budget, kind in budgets:
        cells, verdicts = [], []
        for figures in runs:
            value, base = figures.get(bench), figures.get(baseline) if baseline else None
            if value is None or (baseline and base is None):
                cells.append("—")
                verdicts.append(None)
                continue
            if kind == "ratio":
                ratio = value / base
                cells.append(f"{show(value)} / {show(base)} = **{ratio:.2f}×**")
                verdicts.append(None if budget is None else ratio <= budget)
            elif kind == "times":
                times = base / value
                cells.append(f"{show(base)} / {show(value)} = **{times:.0f}×**")
                verdicts.append(None if budget is None else times >= budget)
            elif kind == "over":
                over = value - base
                cells.append(f"{show(value)} − {show(base)} = **{over:.2f} ns**")
                verdicts.append(over <= budget)
            else:
                cells.append(f"**{show(value)}**")
                verdicts.append(None if budget is None else value <= budget)
        if budget is None:
            shown = "—"
        else:
            shown = {"ratio": f"≤ {budget}×", "times": f"≥ {budget:g}×", "over": f"≤ {budget} ns over",
                     "ns": f"≤ {show(budget)}"}[kind]
        known = [v for v in verdicts if v is not None]
        verdict = "—" if not known else ("met" if all(known) and len(known) == len(runs) else
                                        f"missed in {len([v for v in known if not v])} of {len(runs)}")
        print(f"| {label} | {shown} | " + " | ".join(cells) + f" | {verdict} |")
    if args.suite == "overrides":
        # The bench writes the memory of one load beside criterion's estimates (last run only).
        try:
            memory = json.loads((CRITERION / "overrides" / "peak_bytes.json").read_text())
            mib = lambda n: f"{n / 2**20:.0f} MiB"
            print(f"\nMemory of one load of {memory['records']:,} records ({mib(memory['text_bytes'])} of JSON Lines; "
                  f"budget ≤ 200 MB): from a file, peak {mib(memory['file_peak_bytes'])}; from text in memory, "
                  f"peak {mib(memory['peak_bytes'])} besides the text; the set keeps {mib(memory['kept_bytes'])}.")
        except (OSError, KeyError, ValueError):
            print("\nMemory: no figures (run the bench without --no-run).")


if __name__ == "__main__":
    main()
