"""Benchmark of the default router (issue 16): what a user gets on day one, on lines it never saw.

    python pipelines/bench_default_router.py --data ../shared/data --out reports/default_router

1. LogEval anomaly, test part of the split by distinct log (the router never saw it): the shipped router's
   verdicts as `logai analyze --no-llm` prints them (whole process, start-up included), F1 and false-positive
   rate of `abnormal`, beside a fine-tuned per-dataset router (`--baseline`, from `make train-router`).
2. LogEval anomaly split by item, as LogEval's own 70/30 split is: an estimate of the held-back part's score.
3. Leave one system out: for each system, a head trained exactly as the shipped one but without that
   system's lines, scored on them, with their level and with the text alone.
4. Learning curve: on BGL, left out of training, F1 after 0, 10, 50 and 200 operator corrections (wrong
   verdicts of BGL's train part, corrected in a random order), applied one by one through the product's
   `FeedbackLearner` (as `/v1/feedback` does), scored on BGL's test part.
5. Cost: verdicts per second through `IngestService` (parse, verdict, store) on 20,000 Loghub lines, cold
   (nothing cached) and warm (the same lines again), beside ingest with verdicts off.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logai.config import RouteConfig, Settings, load_settings  # noqa: E402
from logai.evaluation.anomaly_corpus import Example, by_system, merge  # noqa: E402
from logai.evaluation.logeval import find_logeval_file, load_logeval, split_by_input  # noqa: E402
from logai.scores import binary_scores  # noqa: E402
from logai.slm.embeddings import SentenceEmbedder  # noqa: E402
from pipelines.reporting import write_report  # noqa: E402
from pipelines.train_default_router import fit, scores, training_examples  # noqa: E402

LOGAI = str(Path(sys.executable).with_name("logai"))


def logeval_test(data: Path, baseline: Path | None, folder: Path) -> dict:
    """Each test item's log through `logai analyze`, scored per item (LogEval's unit)."""
    items = split_by_input(load_logeval(find_logeval_file(data / "logeval", "anomaly")), seed=0).test
    logs = list(dict.fromkeys(item.log for item in items))
    (folder / "test.log").write_text("\n".join(log.replace("\n", " ") for log in logs) + "\n")
    out = {}
    for name, router in (("default (shipped)", None), ("fine-tuned per-dataset", baseline)):
        if name != "default (shipped)" and router is None:
            continue
        command = [LOGAI, "analyze", "--no-llm", "--format", "plain", "--input", str(folder / "test.log")]
        started = time.perf_counter()
        done = subprocess.run(command + (["--router", str(router)] if router else []), capture_output=True,
                              text=True, check=True)
        seconds = time.perf_counter() - started
        said = dict(zip(logs, (json.loads(line)["label"] for line in done.stdout.splitlines()), strict=True))
        out[name] = {**binary_scores([i.output for i in items], [said[i.log] for i in items]),
                     "process_seconds": round(seconds, 1)}
    return out


Examples = tuple[list[Example], list[Example], list[Example]]  # train, dev, test as `training_examples` makes them


def leave_one_out(examples: Examples, embedder: SentenceEmbedder) -> dict:
    train, dev, test = examples
    systems = by_system(train + dev + test)
    out = {}
    for system in sorted(s for s in systems if s != "seed"):
        held = [x for x in systems[system] if x.kind != "background"]  # scored on labelled lines only
        if not held:
            continue
        kept = [x for x in train if x.system != system]
        model = fit(kept, [x for x in dev if x.system != system], embedder)
        with_level = [x for x in held if not x.input.startswith("\t")]
        text_only = [x for x in held if x.input.startswith("\t")]
        out[system] = {"lines": round(sum(x.weight for x in held)),
                       "abnormal_share": round(sum(x.weight for x in held if x.label == "abnormal")
                                               / max(1e-9, sum(x.weight for x in held)), 4),
                       "with_level": scores(model, with_level), "text_only": scores(model, text_only)}
    return out


def learning_curve(examples: Examples, embedder: SentenceEmbedder, steps=(0, 10, 50, 200), seed: int = 0) -> dict:
    """Corrections drawn from BGL's train and dev parts (only wrong verdicts get corrected), one at a time
    through the product's `FeedbackLearner` (the corrected input answers with the operator's label, and the
    head is re-fitted), scored on BGL's test part by the label the router gives now."""
    from logai.route.feedback import FeedbackLearner
    from logai.route.router import AdaptiveRouter
    from logai.store.store import EventStore

    train, dev, test = examples
    pool = [x for x in train + dev if x.system == "BGL"]
    model = fit([x for x in train if x.system != "BGL"], [], embedder)
    predicted = model.predict([x.input for x in pool])
    wrong = [x for x, p in zip(pool, predicted, strict=True) if p != x.label]
    right = [x for x, p in zip(pool, predicted, strict=True) if p == x.label]
    random.Random(seed).shuffle(wrong)
    random.Random(seed).shuffle(right)
    order = wrong + right  # an operator corrects what is wrong; once nothing is, confirms what is right
    out: dict = {"pool_wrong": len(wrong), "pool": len(pool)}
    with tempfile.TemporaryDirectory() as tmp:
        router = AdaptiveRouter({"anomaly": model}, {"anomaly": float("inf")})
        learner = FeedbackLearner(router, EventStore(f"sqlite:///{tmp}/feedback.db"))
        given = 0
        for n in steps:
            for x in order[given:n]:
                learner.correct("anomaly", x.input, x.label, source="BGL", log_text=x.input, template_id=None)
            given = n
            said = [router.current_label("anomaly", x.input) for x in test]
            out[str(n)] = binary_scores([x.label for x in test], said, "abnormal", [x.weight for x in test])
    return out


def item_split(examples: Examples, embedder: SentenceEmbedder, folds: int = 3, repeats: int = 2) -> dict:
    """LogEval's own 70/30 split is by item, so the part held back from this team asks again about logs the
    shipped router learned from. This estimates its score: the LogEval items divided into `folds` parts at
    random (a log's items may fall on both sides), a head trained as the shipped one on all but one part
    and scored on it, `repeats` times; F1 and FPR pooled over the parts, then averaged."""
    train, dev, test = examples
    items = [replace(x, weight=1.0) for x in train + dev + test if x.kind == "gold" for _ in range(round(x.weight))]
    other = [x for x in train if x.kind != "gold"]
    runs = []
    for repeat in range(repeats):
        order = list(range(len(items)))
        random.Random(10 + repeat).shuffle(order)
        gold: list[str] = []
        said: list[str] = []
        for part in range(folds):
            held = [items[i] for k, i in enumerate(order) if k % folds == part]
            kept = merge(items[i] for k, i in enumerate(order) if k % folds != part)
            model = fit(other + kept, [], embedder)
            gold += [x.label for x in held]
            said += model.predict([x.input for x in held])
        runs.append(binary_scores(gold, said, "abnormal"))
    return {key: round(sum(run[key] for run in runs) / len(runs), 4) for key in ("f1", "precision", "recall", "fpr")
            } | {"items": len(items), "folds": folds, "repeats": repeats}


def cost(data: Path, lines: int = 20_000) -> dict:
    """Lines/s through IngestService, cold and warm (the same lines a second time): verdicts off, on, and on with
    the packaged LLM reviewing what the router sends it, as `logai serve` runs it. Each in a process of its own,
    so no cache (the encoder's, the verdicts') carries over from one to the next."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    sample: list[bytes] = []
    for log in sorted((data / "loghub_2k").glob("*/*_2k.log")):
        sample += log.read_bytes().splitlines()
    sample = sample[:lines]
    out = {}
    for name, task, llm in (("verdicts off", None, False), ("verdicts on", "anomaly", False),
                            ("verdicts on, LLM on", "anomaly", True)):
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            out[name] = pool.submit(cost_of, sample, task, llm).result()
    return out


def cost_of(sample: list[bytes], task: str | None, llm: bool, review_wait_s: float = 300.0) -> dict:
    """One row of `cost`. With a task: the share of verdicts sent to the LLM and its tokens per routed verdict,
    read from the stored analyses once the reviews are done (at most `review_wait_s`)."""
    from logai.bootstrap import build_service

    with tempfile.TemporaryDirectory() as tmp:
        service = build_service(Settings(data_dir=Path(tmp), route=RouteConfig(llm=llm, ingest_task=task)))
        service.start_background()
        rounds = []
        for round_number in range(2):
            started = time.perf_counter()
            service.ingest(sample, source="bench", format_name="generic", door="bench",
                           keys=[f"{round_number}:{i}" for i in range(len(sample))])
            rounds.append(round(len(sample) / (time.perf_counter() - started)))
        row: dict = {"cold_lines_per_s": rounds[0], "warm_lines_per_s": rounds[1], "analyses": 0}
        if task:
            deadline = time.monotonic() + review_wait_s
            while True:
                provenance = [a["provenance"] for a in service.store.analyses(limit=10**7)]
                if not any(p.get("llm_pending") for p in provenance) or time.monotonic() > deadline:
                    break
                time.sleep(2)
            routed = [p for p in provenance if p.get("llm_pending") or p.get("path") != "slm"]
            row.update(analyses=len(provenance), llm_share=round(len(routed) / max(len(provenance), 1), 4),
                       llm_tokens_per_routed=round(sum(p.get("llm_tokens") or 0 for p in routed) / len(routed), 1)
                       if routed else None)
        service.close()
    return row


def markdown(report: dict) -> str:
    rows = ["# Default router benchmark (issue 16)", "", f"Machine: {report['machine']}.", "",
            "## LogEval anomaly, unseen test part (items)", "", "| router | F1 | FPR | recall | items | process s |",
            "| --- | --- | --- | --- | --- | --- |"]
    rows += [f"| {k} | {v['f1']} | {v['fpr']} | {v['recall']} | {v['items']} | {v['process_seconds']} |"
             for k, v in report["logeval"].items()]
    split = report["item_split"]
    rows += ["", f"## LogEval anomaly, split by item ({split['folds']} parts, {split['repeats']} repeats): what the "
             "held-back 30% should see", "", "| F1 | precision | recall | FPR | items |",
             "| --- | --- | --- | --- | --- |",
             f"| {split['f1']} | {split['precision']} | {split['recall']} | {split['fpr']} | {split['items']} |"]
    rows += ["", "## Leave one system out", "", "Weak labels (level) for the Loghub systems, LogEval answers for BGL.",
             "", "| held-out system | lines | abnormal share | F1 / FPR with level | F1 / FPR text only |",
             "| --- | --- | --- | --- | --- |"]
    for system, v in report["loso"].items():
        wl, to = v["with_level"], v["text_only"]
        rows.append(f"| {system} | {v['lines']} | {v['abnormal_share']} | "
                    f"{wl.get('f1', '-')} / {wl.get('fpr', '-')} | {to.get('f1', '-')} / {to.get('fpr', '-')} |")
    curve = report["curve"]
    rows += ["", f"## Learning curve on BGL, never trained on ({curve['pool_wrong']} wrong of {curve['pool']} "
             "correctable logs)", "", "| corrections | F1 | FPR | recall |", "| --- | --- | --- | --- |"]
    rows += [f"| {n} | {curve[n]['f1']} | {curve[n]['fpr']} | {curve[n]['recall']} |" for n in ("0", "10", "50", "200")]
    rows += ["", "## Cost: 20,000 Loghub lines through IngestService (parse, verdict, store; SQLite)", "",
             "LLM share: verdicts the router sent to the LLM (the packaged SmolLM2, local backend, default "
             "budget).", "",
             "| | cold lines/s | warm lines/s | LLM share | LLM tokens per routed verdict |",
             "| --- | --- | --- | --- | --- |"]
    rows += [f"| {k} | {v['cold_lines_per_s']} | {v['warm_lines_per_s']} | {v.get('llm_share', '-')} | "
             f"{v.get('llm_tokens_per_routed') if v.get('llm_tokens_per_routed') is not None else '-'} |"
             for k, v in report["cost"].items()]
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "default_router")
    parser.add_argument("--baseline", type=Path, default=ROOT / "models" / "router",
                        help="a fine-tuned router folder (make train-router); skipped when absent")
    parser.add_argument("--only-cost", action="store_true",
                        help="rerun the cost part alone, into the report already in --out")
    args = parser.parse_args()
    if args.only_cost:
        report = json.loads((args.out / "report.json").read_text())
        report["cost"] = cost(args.data)
        write_report(args.out, report, markdown)
        return
    settings = load_settings(None)
    embedder = SentenceEmbedder()
    report = {"machine": f"{os.uname().machine}, {os.cpu_count()} cores"}
    with tempfile.TemporaryDirectory() as tmp:
        report["logeval"] = logeval_test(args.data, args.baseline if args.baseline.is_dir() else None, Path(tmp))
    examples = training_examples(args.data, settings)[:3]  # parsed once: 14 Loghub logs and the LogEval items
    report["loso"] = leave_one_out(examples, embedder)
    report["item_split"] = item_split(examples, embedder)
    report["curve"] = learning_curve(examples, embedder)
    report["cost"] = cost(args.data)
    write_report(args.out, report, markdown)


if __name__ == "__main__":
    main()
