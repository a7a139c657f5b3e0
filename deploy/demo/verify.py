#!/usr/bin/env python3
"""make demo's checks: the responses a person counted with curl against the configured split, and
against the proxy's own counters (as `veerctl ... -o json` reports them).

  verify.py split TALLY STATUS_JSON|- VARIANT=PERCENT...
      TALLY: one response body (the answering version) per line.
  verify.py cohort TALLY LIST_JSON RULE=VARIANT
      TALLY: one response body (the answering version) per line, all from users the rule takes.
  verify.py experiment TALLY LIST_JSON ARM=VARIANT:PERCENT...
      TALLY: one "EXPERIMENT=ARM VERSION" line per request (the x-veer-experiment response header
      and the version that answered).
  verify.py report SHOPPERS_JSON REPORT_JSON WINNER
      SHOPPERS_JSON: what the simulated shoppers did per arm (veer-demo-shoppers --out);
      REPORT_JSON: `veerctl experiment report -o json`. Every count must be equal (users,
      purchases, requests) and the report must name WINNER the winner.

Counts must lie within Z binomial standard deviations of the configured share (exact for 0 % and
100 %), and equal the proxy's counters: every request since the last change is one of the demo's.
Prints the tally; exits 1 saying what differed.
"""
import json
import math
import sys
from collections import Counter

# Four standard deviations: a correct split fails about once in 16,000 checks; a split off by
# 20 points fails at any request count the demo uses (100 and up).
Z = 4.0


def parse_expected(specs):
    """VARIANT=PERCENT (split) or ARM=VARIANT:PERCENT (experiment) -> {name: (variant, share)}."""
    out = {}
    for spec in specs:
        name, _, rest = spec.partition("=")
        variant, _, percent = rest.rpartition(":")
        out[name] = (variant or name, float(percent) / 100)
    return out


def binomial_problems(counts, expected, n):
    """Prints each name's count beside its expectation; returns what lies outside the tolerance."""
    problems = []
    for name, (_, share) in expected.items():
        k = counts.get(name, 0)
        mean = n * share
        tolerance = Z * math.sqrt(n * share * (1 - share))
        print(f"  {name}: {k:5d}  ({100 * k / n:.1f} %)  configured {100 * share:g} %: "
              f"expected {mean:.0f} ± {tolerance:.0f}")
        if abs(k - mean) > tolerance:
            problems.append(f"{name}: {k} of {n}, configured {100 * share:g} % allows "
                            f"{math.ceil(mean - tolerance)}..{math.floor(mean + tolerance)}")
    unknown = sorted(set(counts) - set(expected))
    for name in unknown:
        problems.append(f"{counts[name]} responses from {name!r}, which the split does not name")
    return problems


def read_lines(path):
    with open(path) as f:
        return [line.strip() for line in f]


def split(tally, status_path, specs):
    expected = parse_expected(specs)
    counts = Counter(read_lines(tally))
    n = sum(counts.values())
    problems = binomial_problems(counts, expected, n)
    if status_path != "-":
        with open(status_path) as f:
            status = json.load(f)
        for svc in status["services"]:
            for v in svc["variants"]:
                if v["name"] in expected and v["split_requests"] != counts.get(v["name"], 0):
                    problems.append(
                        f"{v['name']}: curl counted {counts.get(v['name'], 0)}, the proxy's "
                        f"counters say {v['split_requests']} (veerctl status)")
    return problems


def cohort(tally, list_path, specs):
    """Every response from the rule's variant, and the rule's counter (`veerctl cohort list -o
    json`) equal to the responses: each request since the last change is one of the demo's."""
    rule, _, variant = specs[0].partition("=")
    counts = Counter(read_lines(tally))
    n = sum(counts.values())
    print(f"  {variant}: {counts.get(variant, 0):5d} of {n}  (rule {rule} sends every one to {variant})")
    problems = [f"{k} responses from {name!r}, not {variant!r}"
                for name, k in sorted(counts.items()) if name != variant]
    with open(list_path) as f:
        decided = {row["rule"]: row["decided"] for row in json.load(f)}
    if decided.get(rule) != n:
        problems.append(f"{rule}: curl counted {n}, the proxy's counters say {decided.get(rule)} "
                        "(veerctl cohort list)")
    return problems


def experiment(tally, list_path, specs):
    expected = parse_expected(specs)
    rows = read_lines(tally)
    arms = Counter()
    problems = []
    for row in rows:
        header, _, version = row.partition(" ")
        arm = header.partition("=")[2] or "(no assignment header)"
        arms[arm] += 1
        want = expected.get(arm, (None, 0))[0]
        if want is not None and version != want:
            problems.append(f"a user assigned {arm!r} got {version!r}, not {want!r}")
    problems += binomial_problems(arms, expected, len(rows))
    with open(list_path) as f:
        listed = {row["arm"]: row["assigned"] for row in json.load(f)}
    for arm in expected:
        if listed.get(arm) != arms.get(arm, 0):
            problems.append(f"{arm}: curl counted {arms.get(arm, 0)}, the proxy's counters say "
                            f"{listed.get(arm)} (veerctl experiment list)")
    return problems


def report(shoppers_path, report_path, specs):
    with open(shoppers_path) as f:
        shoppers = json.load(f)
    with open(report_path) as f:
        r = json.load(f)
    problems = []
    for a in r["arms"]:
        t = shoppers.get(a["arm"], {})
        goal = a["goals"][0]
        print(f"  {a['arm']}: {a['exposed_users']} exposed users, {goal['converted_users']} bought "
              f"({goal['goal_requests']} purchases), {a['exposure_requests']} requests; "
              f"the shoppers: {t.get('users')} users, {t.get('converted')} bought")
        pairs = [("exposed users", a["exposed_users"], t.get("users")),
                 ("converted users", goal["converted_users"], t.get("converted")),
                 ("purchases", goal["goal_requests"], t.get("goal_requests")),
                 ("requests", a["exposure_requests"],
                  t.get("page_requests", 0) + t.get("goal_requests", 0))]
        for what, counted, sent in pairs:
            if counted != sent:
                problems.append(f"{a['arm']}: the report counts {counted} {what}, the shoppers "
                                f"sent {sent}")
    winner = specs[0]
    verdicts = {a["arm"]: a["verdict"] for a in r["headline"]["arms"]}
    if verdicts.get(winner) != "winner":
        problems.append(f"the report does not name {winner} the winner: {r['headline']['text']}")
    return problems


def main(argv):
    checks = {"split": split, "cohort": cohort, "experiment": experiment, "report": report}
    if len(argv) < 5 or argv[1] not in checks:
        print(__doc__, file=sys.stderr)
        return 2
    problems = checks[argv[1]](argv[2], argv[3], argv[4:])
    if problems:
        print("VERIFICATION FAILED:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    if argv[1] == "report":
        print(f"  verified: every count equals what the shoppers did, and {argv[4]} is the winner")
        return 0
    if argv[1] == "cohort":
        print("  verified: every response from the rule's variant, as many as the proxy's counter")
    else:
        print("  verified: within the binomial tolerance of the configured weights"
              + ("" if argv[1] == "split" and argv[3] == "-" else ", and equal to the proxy's counters"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
