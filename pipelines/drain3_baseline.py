"""Vanilla drain3, configured as logparser's Drain benchmark does: the baseline of `bench_parsing.py`.

Header split by the same Loghub format regex, content masked with the benchmark's regexes (matches become
`<*>`, as logparser's preprocessing does), then drain3's `TemplateMiner` with the benchmark's similarity
threshold and depth. Run as a script it does the job of `logai parse`: one JSON line per input line, with the same
keys (line, template_id, template, params, fields, content, raw), parameters from drain3's extractor.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import orjson
from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from logai.parsing.headers import format_string_to_regex

# logparser's Drain benchmark settings for the systems timed here (configs/formats/research-systems.yaml has all).
HDFS_SETTINGS = {
    "log_format": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "regex": [r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?"],
    "st": 0.5,
    "depth": 4,
}

# a file of many systems' lines has no one header: the whole line is the message, with logparser's
# generic masks (an IPv4 address with its port, a number standing alone) and Drain's default settings
GENERIC_SETTINGS = {
    "log_format": "<Content>",
    "regex": [r"(\d+\.){3}\d+(:\d+)?", r"(?<=[^A-Za-z0-9])(\-?\+?\d+)(?=[^A-Za-z0-9])|[0-9]+$"],
    "st": 0.5,
    "depth": 4,
}


class VanillaDrain:
    """drain3 with logparser-style preprocessing."""

    def __init__(self, log_format: str, regexes: list[str], st: float, depth: int):
        self.header = format_string_to_regex(log_format)
        self.masks = [re.compile(r) for r in regexes]
        config = TemplateMinerConfig()
        config.drain_sim_th = st
        config.drain_depth = depth
        config.profiling_enabled = False
        self.miner = TemplateMiner(config=config)

    def split(self, line: str) -> tuple[dict[str, str], str]:
        match = self.header.match(line.strip())
        if match is None:
            return {}, line
        fields = match.groupdict()
        return fields, fields.pop("Content")

    def mine(self, content: str):
        for mask in self.masks:
            content = mask.sub("<*>", content)
        result = self.miner.add_log_message(content)
        return result["cluster_id"], result["template_mined"]

    def add(self, line: str):
        return self.mine(self.split(line)[1])

    def final_template(self, cluster_id: int) -> str:
        for cluster in self.miner.drain.clusters:
            if cluster.cluster_id == cluster_id:
                return cluster.get_template()
        raise KeyError(cluster_id)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("input", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--generic", action="store_true", help="no header: lines of many systems (GENERIC_SETTINGS)")
    args = ap.parse_args()
    spec = GENERIC_SETTINGS if args.generic else HDFS_SETTINGS
    drain = VanillaDrain(spec["log_format"], spec["regex"], spec["st"], spec["depth"])
    with args.input.open("rb") as src, args.out.open("wb") as out:
        for number, raw in enumerate(src, start=1):
            line = raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
            fields, content = drain.split(line)
            cluster_id, template = drain.mine(content)
            # the same output contract as `logai parse`: parameters through drain3's own extractor
            params = drain.miner.extract_parameters(template, content, exact_matching=False) or []
            out.write(orjson.dumps({
                "line": number, "template_id": cluster_id, "template": template,
                "params": [{"value": p.value, "type": None, "concept": None} for p in params],
                "fields": fields, "content": content, "raw": line,
            }))
            out.write(b"\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
