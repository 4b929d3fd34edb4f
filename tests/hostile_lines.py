"""Pathological log lines: each must parse in well under a second, whatever the format (issue 14).

Found by a hostile test of `logai serve` (a 9 KB line of distinct words froze the server for minutes) and
by trying what makes regexes and alignment quadratic: long runs, many short tokens, deep brackets."""

from __future__ import annotations

import base64
import random

_CONTROL = [chr(c) for c in range(32) if c not in (10, 13)]


def hostile_lines(scale: int = 1) -> dict[str, str]:
    rng = random.Random(14)
    blob = base64.b64encode(rng.randbytes(7600 * scale)).decode()
    return {
        "distinct_words_9kb": " ".join(f"w{i}" for i in range(1700 * scale)),
        "base64_10kb": blob,
        "key_values": "x=1 " * 3000 * scale,
        "key_values_words": "a=b " * 4000 * scale,
        "colons": "k: v " * 4000 * scale,
        "blank_run": " " * 200_000 * scale + "x",
        "tabs": "a\t\t" * 50_000 * scale,
        "open_brackets": "[" * 100_000 * scale,
        "nested_parens": "(" * 50_000 * scale + ")" * 50_000 * scale,
        "one_token_1mb": "x" * 1_000_000 * scale,
        "digits": "1" * 500_000 * scale,
        "dots": "a." * 200_000 * scale,
        "dotted_numbers": ".".join(["1"] * 100_000 * scale),
        "unicode": "é中" * 100_000 * scale,
        "quotes": '"a' * 100_000 * scale,
        "mixed_variables": " ".join(rng.choice(["a=1", "/x/y", "0x1f", "blk_1", '"q"', "[x]", "1.2.3.4:5"])
                                    for _ in range(40_000 * scale)),
        # one line of control characters: \n and \r would make it ~3,000 lines (a body, timed per line elsewhere)
        "control_chars": "".join(rng.choice(_CONTROL) for _ in range(100_000 * scale)),
        "hyphens": "-" * 300_000 * scale,
        "timestamps": "2024-01-01 00:00:00 " * 5000 * scale,
        "syslog_like": "<13>Jan  1 00:00:00 host app[1]: " + "[k=v] " * 20_000 * scale,
        "json_like": '{"a":' * 20_000 * scale,
    }
