"""Streamed JSON for the doors: a first pass checks, counts and frames, a second makes the items."""

from __future__ import annotations

import orjson
import pytest

from logai.doors import json_stream
from logai.doors.bodies import BadBody

LEVELS = ("outer.item", "outer.item.inner.item")
HEADERS = {"head": "outer.item.head", "tag": "outer.item.inner.item.tag"}
ITEM = "outer.item.inner.item.rows.item"


def test_groups_get_their_headers_whatever_the_key_order():
    body = orjson.dumps({"outer": [
        {"head": {"name": "a", "n": [1, 2]}, "inner": [{"tag": "x", "rows": [1, 2, 3]}, {"rows": [], "tag": "y"}]},
        {"inner": [{"rows": [{"deep": [4]}]}], "head": "late"},  # a header after its groups
    ]})
    groups = json_stream.scan(body, levels=LEVELS, headers=HEADERS, item=ITEM)
    assert [(g.header("head"), g.header("tag"), g.count) for g in groups] == [
        ({"name": "a", "n": [1, 2]}, "x", 3), ({"name": "a", "n": [1, 2]}, "y", 0), ("late", None, 1)]
    assert list(json_stream.items(body, ITEM)) == [1, 2, 3, {"deep": [4]}]


@pytest.mark.parametrize("body", [b'{"outer": [', b'{"outer": []} trailing', b"\xff\xfe", b""])
def test_a_broken_body_is_refused_before_any_item(body):
    with pytest.raises(BadBody, match="not valid JSON"):
        json_stream.scan(body, levels=LEVELS, headers=HEADERS, item=ITEM)


def test_check_sees_every_event_outside_the_headers():
    seen = []
    body = b'{"outer": [{"head": {"skip": 1}, "inner": [{"rows": [7]}]}]}'
    json_stream.scan(body, levels=LEVELS, headers=HEADERS, item=ITEM,
                     check=lambda prefix, event, value: seen.append((prefix, event)))
    assert ("outer.item.head.skip", "number") not in seen and (ITEM, "number") in seen


COUNT_PEAK = """
import tracemalloc, orjson
from logai.doors import json_stream
body = orjson.dumps([{"log": f"line {i}", "n": i} for i in range(200_000)])
tracemalloc.start()
assert json_stream.count_items(body, "item") == 200_000
print(tracemalloc.get_traced_memory()[1], len(body))
"""


def test_counting_a_6_mb_array_holds_no_python_objects_of_it():
    """Measured in a fresh interpreter: tracemalloc counts every thread of a process, and a test worker may
    still run another test's background thread (a CI run saw 148 MB here, an LLM loading beside it)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", COUNT_PEAK], capture_output=True, text=True, check=True, timeout=120)
    peak, size = map(int, done.stdout.split())
    assert peak < size / 4, (peak, size)  # decoded whole, it takes about 4x its size
