"""Micro-benchmark of shoal.observability.filter_patterns: µs per ``Matcher.match`` for each kind
of pattern, and what a FilterLogEvents scan of a million events would spend matching (a match
and a miss each). Run: .venv/bin/python bench/filter_pattern_bench.py"""

from __future__ import annotations

import json
import timeit

from shoal.observability.filter_patterns import compile

APACHE = '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
LAMBDA = "2024-01-01T00:00:00.000Z\tc0ffee-42\tINFO something happened in the handler"

# (kind, pattern, a message it matches, a message it does not)
CASES = [
    ("term", "ERROR", "[ERROR 400] BAD REQUEST", "[INFO 200] OK"),
    ("terms", "ERROR ARGUMENTS", "[ERROR 419] MISSING ARGUMENTS", "[ERROR 400] BAD REQUEST"),
    ("or / exclude", "?ERROR ?WARN -DEBUG", "WARN disk", "INFO fine"),
    ("phrase", '"INTERNAL SERVER ERROR"', "[ERROR 500] INTERNAL SERVER ERROR", "[INFO 200] OK"),
    ("regex", "%ERROR.4[0-9]+%", "[ERROR 404] NOT FOUND", "[ERROR 500] OOPS"),
    ("regex, several quantifiers (RE2)", r"%\d{1,3}\.\d{1,3}%", "from 10.1.2.3", "from host"),
    (
        "json",
        '{ $.level = "ERROR" && $.latency > 100 }',
        json.dumps({"level": "ERROR", "latency": 101, "msg": "slow"}),
        json.dumps({"level": "INFO", "latency": 3, "msg": "ok"}),
    ),
    ("json, on a non-JSON message", '{ $.level = "ERROR" }', '{"level": "ERROR"}', LAMBDA),
    (
        "space-delimited",
        "[ip, user, username, timestamp, request = *.html*, status_code = 4*, bytes]",
        APACHE,
        APACHE.replace(" 404 ", " 200 "),
    ),
    ("space-delimited, ...", "[..., status_code = 404, bytes]", APACHE, LAMBDA),
    ("lambda's default", '[timestamp=*Z, request_id="*-*", event]', LAMBDA, APACHE),
]


def per_match(match: object, message: str, n: int = 20000) -> float:
    assert callable(match)
    return min(timeit.repeat(lambda: match(message), number=n, repeat=5)) / n


def main() -> None:
    print(f"{'pattern kind':34} {'match µs':>9} {'miss µs':>9} {'1M events':>10}")
    for kind, pattern, hit, miss in CASES:
        matcher = compile(pattern)
        assert matcher.match(hit) and not matcher.match(miss), pattern
        yes, no = per_match(matcher.match, hit), per_match(matcher.match, miss)
        print(f"{kind:34} {yes * 1e6:9.2f} {no * 1e6:9.2f} {(yes + no) / 2 * 1e6:9.2f}s")
    compile.cache_clear()
    seconds = min(timeit.repeat(lambda: compile.__wrapped__(CASES[6][1]), number=2000, repeat=3))
    print(f"compiling a JSON pattern (uncached): {seconds / 2000 * 1e6:.1f} µs")


if __name__ == "__main__":
    main()
