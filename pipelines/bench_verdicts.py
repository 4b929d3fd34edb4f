"""Cold verdicts: how many distinct events a router judges per second with an empty cache, and whether the
cheap path decides as the full one does.

    python pipelines/bench_verdicts.py --data ../shared/data --router models/router --out reports/verdicts

For each router (the default that ships with logai; a fine-tuned one with --router) and each input set
(events of twelve Loghub systems parsed with their formats; the LogEval anomaly test part, logs the routers
were not trained on), the same events go through `AdaptiveRouter.analyze` in batches of 256 (a daemon fetch),
cold (verdict and embedding caches emptied), twice in one process:
- full: the encoder in float32 and every distinct input given the MC-dropout passes (`route.mc_screen:
  null`), the baseline;
- screened, the default: the encoder in bfloat16 where the CPU has it (`SentenceEmbedder(precision="auto")`),
  one deterministic pass, and the passes only where it is at least half the threshold unsure
  (`route.mc_screen: 0.5`).
Reported: distinct model inputs and distinct events per second, and the share of events whose decision
(label, and whether the LLM would be asked) differs between the two. No LLM is called: routing is read from
the verdict (uncertainty above the threshold, LLM expected to beat the small model).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logai.evaluation.logeval import find_logeval_file, load_logeval, split_by_input  # noqa: E402
from logai.events import Event  # noqa: E402
from logai.paths import DEFAULT_ROUTER  # noqa: E402
from logai.pipeline import Pipeline  # noqa: E402
from logai.route.router import AdaptiveRouter, model_input  # noqa: E402
from logai.route.training import load_router  # noqa: E402
from logai.slm.embeddings import SentenceEmbedder, shared_embedder  # noqa: E402
from pipelines.reporting import write_report  # noqa: E402

SYSTEMS = ["Apache", "HDFS", "HPC", "Hadoop", "HealthApp", "Linux", "Mac", "OpenSSH", "OpenStack", "Proxifier",
           "Spark", "Zookeeper"]
BATCH = 256


def loghub_events(data: Path) -> list[Event]:
    pipeline = Pipeline()
    events: list[Event] = []
    for system in SYSTEMS:
        with (data / "loghub_2k" / system / f"{system}_2k.log").open("rb") as handle:
            events += pipeline.parse_stream(handle, source=system, format_name=system)
    return events


def logeval_events(data: Path) -> list[Event]:
    items = split_by_input(load_logeval(find_logeval_file(data / "logeval", "anomaly"))).test
    pipeline = Pipeline()
    return [pipeline.parse_text(item.log, source="logeval", format_name="generic", line=i + 1)
            for i, item in enumerate(items)]


def decisions(router: AdaptiveRouter, events: list[Event], task: str) -> tuple[list[tuple[str, bool]], float]:
    """(label, would ask the LLM) per event, and the seconds it took cold."""
    router.cache.invalidate()
    shared_embedder().clear()
    threshold = router.thresholds.get(task, float("inf"))
    started = time.perf_counter()
    verdicts = []
    for start in range(0, len(events), BATCH):
        verdicts += router.analyze(events[start : start + BATCH], task)
    seconds = time.perf_counter() - started
    return [(v.label, v.uncertainty > threshold and router.llm_pays(task, v.confidence)) for v in verdicts], seconds


def compare(router: AdaptiveRouter, events: list[Event], task: str = "anomaly") -> dict[str, Any]:
    model = router.model(task)
    inputs = len({model_input(model, e) for e in events})
    distinct_events = len({e.content for e in events})
    runs = {}
    for name, screen, precision in (("full", None, "fp32"), ("screened", 0.5, "auto")):
        router.mc_screen = screen
        if isinstance(embedder := getattr(model, "embedder", None), SentenceEmbedder):
            embedder.precision = precision
        runs[name] = decisions(router, events, task)
    (full, full_s), (fast, fast_s) = runs["full"], runs["screened"]
    return {
        "events": len(events), "distinct_events": distinct_events, "distinct_inputs": inputs,
        "encoder": {"full": "fp32", "screened": getattr(getattr(model, "embedder", None), "precision", "?")},
        "threshold": router.thresholds.get(task),
        "full": {"seconds": round(full_s, 2), "inputs_per_s": round(inputs / full_s, 1),
                 "distinct_events_per_s": round(distinct_events / full_s, 1),
                 "routed": sum(r for _, r in full)},
        "screened": {"seconds": round(fast_s, 2), "inputs_per_s": round(inputs / fast_s, 1),
                     "distinct_events_per_s": round(distinct_events / fast_s, 1),
                     "routed": sum(r for _, r in fast)},
        "speedup": round(full_s / fast_s, 2),
        "label_differs": round(sum(a[0] != b[0] for a, b in zip(full, fast, strict=True)) / len(events), 4),
        "routing_differs": round(sum(a[1] != b[1] for a, b in zip(full, fast, strict=True)) / len(events), 4),
    }


def markdown(report: dict[str, Any]) -> str:
    lines = ["# Cold verdicts", "", f"Machine: {report['machine']}. Batches of {BATCH} events, caches emptied "
             "before each run; full = float32 encoder and MC dropout on every distinct input (baseline), screened = "
             "the default: bfloat16 encoder where the CPU has it, one deterministic pass, MC dropout where it is at "
             "least half the threshold unsure.", "",
             f"Command: `{report['command']}`", "",
             "| router | inputs | events (distinct) | model inputs | full: inputs/s | screened: inputs/s | "
             "screened: distinct events/s | speedup | label differs | routing differs |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, row in report["runs"].items():
        router, inputs = name.split(" / ")
        lines.append(f"| {router} | {inputs} | {row['events']:,} ({row['distinct_events']:,}) | "
                     f"{row['distinct_inputs']:,} | {row['full']['inputs_per_s']} | "
                     f"**{row['screened']['inputs_per_s']}** | {row['screened']['distinct_events_per_s']} | "
                     f"{row['speedup']}x | {row['label_differs']:.2%} | {row['routing_differs']:.2%} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--router", type=Path, default=None, help="a fine-tuned router folder (train_slm.py)")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "verdicts")
    args = ap.parse_args()
    inputs = {"loghub 12 systems": loghub_events(args.data), "logeval anomaly test": logeval_events(args.data)}
    routers = {"default": DEFAULT_ROUTER, **({"fine-tuned": args.router} if args.router else {})}
    report: dict[str, Any] = {"machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
                              "command": " ".join(sys.argv), "runs": {}}
    for router_name, folder in routers.items():
        router = load_router(folder, None)
        for input_name, events in inputs.items():
            row = compare(router, events)
            report["runs"][f"{router_name} / {input_name}"] = row
            print(router_name, input_name, row, flush=True)
    write_report(args.out, report, markdown)


if __name__ == "__main__":
    main()
