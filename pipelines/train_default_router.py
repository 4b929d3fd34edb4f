"""Train the default anomaly router that ships inside logai (`logai/route/default_router/`).

    python pipelines/train_default_router.py --data ../shared/data --out logai/route/default_router

What it learns from (`logai.evaluation.anomaly_corpus`):
- the LogEval anomaly items' train part (BGL lines with normal/abnormal answers; split by distinct log,
  60/20/20, seed 0: the same split as `make train-router`, so its test part stays unseen);
- the Loghub-2k systems' own levels as weak labels (ERROR/CRITICAL abnormal, TRACE..NOTICE normal), each
  line with and without its level, and their other lines (no level, or WARNING) as `normal` background text
  (the base rate: most lines of any system are routine);
- generic seed phrases of trouble and routine (`pipelines/data/anomaly_seeds.yaml`).

The model is a `HeadClassifier` over the packaged, frozen MiniLM; the dev part calibrates its temperature.
Dev logs it gets wrong or is unsure of become the error-prone cases. With `--llm-check N`, the packaged LLM
answers the N dev logs the head is least sure of, with their retrieved cases: its measured accuracy there
is what the router weighs against the head's confidence before routing (`llm_accuracy`). The manifest
records the data files' sha256, the git commit, the seed and the dev figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logai.config import load_settings  # noqa: E402
from logai.evaluation.anomaly_corpus import (  # noqa: E402
    Example,
    background_examples,
    gold_examples,
    loghub_systems,
    weak_examples,
)
from logai.evaluation.logeval import find_logeval_file, load_logeval, split_by_input  # noqa: E402
from logai.route.cases import CaseLibrary  # noqa: E402
from logai.route.head_training import error_prone_cases, save_head_router  # noqa: E402
from logai.route.training import ROUTER_FILE  # noqa: E402
from logai.scores import binary_scores  # noqa: E402
from logai.slm.embeddings import SentenceEmbedder  # noqa: E402
from logai.slm.head import NEIGHBOUR_SIM, HeadClassifier  # noqa: E402

SEEDS = ROOT / "pipelines" / "data" / "anomaly_seeds.yaml"
log = logging.getLogger("train_default_router")


def seed_examples(path: Path = SEEDS, weight: float = 2.0) -> list[Example]:
    seeds = yaml.safe_load(path.read_text())
    return [Example("\t" + text, label, weight, "seed", "seed") for label in ("abnormal", "normal")
            for text in seeds[label]]


def training_examples(data: Path, settings, *, exclude: str | None = None, seed: int = 0
                      ) -> tuple[list[Example], list[Example], list[Example], dict[str, str]]:
    """(train, dev, test) examples and the sha256 of every data file read. `exclude` leaves one system out
    of training (its lines are then in none of the three lists)."""
    logeval = find_logeval_file(data / "logeval", "anomaly")
    files = {str(logeval.relative_to(data)): hashlib.sha256(logeval.read_bytes()).hexdigest()}
    split = split_by_input(load_logeval(logeval), seed=seed)
    train: list[Example] = []
    dev: list[Example] = []
    test: list[Example] = []
    if exclude != "BGL":
        train, dev, test = (gold_examples(part, settings) for part in (split.train, split.dev, split.test))
    for system, log_file in loghub_systems(data / "loghub_2k").items():
        files[str(log_file.relative_to(data))] = hashlib.sha256(log_file.read_bytes()).hexdigest()
        if system != exclude:
            train += weak_examples(log_file, settings, system) + background_examples(log_file, settings, system)
    files[str(SEEDS.relative_to(ROOT))] = hashlib.sha256(SEEDS.read_bytes()).hexdigest()
    return train + seed_examples(), dev, test, files


def scores(model: HeadClassifier, examples: list[Example], positive: str = "abnormal") -> dict[str, float]:
    """Weighted F1, precision, recall and false-positive rate of `positive` on the model's predictions."""
    if not examples:
        return {}
    return binary_scores([x.label for x in examples], model.predict([x.input for x in examples]), positive,
                         [x.weight for x in examples])


ABNORMAL_WEIGHT = 5.0  # chosen by dev F1 among 1, 5 and 20, with and without balanced class weights


def fit(train: list[Example], dev: list[Example], embedder: SentenceEmbedder, seed: int = 0,
        abnormal_weight: float = ABNORMAL_WEIGHT) -> HeadClassifier:
    """The head as the shipped router is trained: abnormal examples (rare, and what users must not miss)
    weigh `abnormal_weight` times their count."""
    model = HeadClassifier(class_weight=None, seed=seed, neighbour_sim=NEIGHBOUR_SIM, embedder=embedder)
    weights = [x.weight * (abnormal_weight if x.label == "abnormal" else 1.0) for x in train]
    return model.fit([x.input for x in train], [x.label for x in train], weights,
                     [x.input for x in dev], [x.label for x in dev])


def llm_check(folder: Path, dev: list[Example], count: int, settings) -> dict[str, float | int]:
    """The packaged LLM's accuracy on the `count` dev logs the saved head is least sure of."""
    from logai.llm.factory import build_backend
    from logai.route.llm_accuracy import measure_llm_accuracy
    from logai.route.training import load_router

    router = load_router(folder, build_backend(settings.llm))
    return measure_llm_accuracy(router, "anomaly", [x.input for x in dev], [x.label for x in dev],
                                [x.weight for x in dev], count)


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "logai" / "route" / "default_router")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--llm-check", type=int, default=40, help="dev logs the LLM answers (0: skip)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings(None)
    started = time.perf_counter()
    train, dev, test, files = training_examples(args.data, settings, seed=args.seed)
    embedder = SentenceEmbedder()
    model = fit(train, dev, embedder, args.seed)
    dev_scores = scores(model, dev)
    library = CaseLibrary(embedder)
    library.add(error_prone_cases(model, [x.input for x in dev], [x.label for x in dev], "anomaly",
                                  origin=[f"{x.kind}:{x.system}" for x in dev]))
    report = {"dev": dev_scores, "train_inputs": len(train), "dev_logs": len(dev), "test_logs_unseen": len(test),
              "temperature": model.temperature_}
    out = args.out
    manifest = {"kind": "default", "seed": args.seed, "commit": git_commit(), "data": files,
                "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "train_seconds": round(time.perf_counter() - started, 1)}
    save_head_router(out, "anomaly", model, library, report, **manifest)
    if args.llm_check:
        record = json.loads((out / ROUTER_FILE).read_text())
        record["tasks"]["anomaly"].update(llm_check(out, dev, args.llm_check, settings))
        (out / ROUTER_FILE).write_text(json.dumps(record, indent=2))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    log.info("default router in %s: %.1f MB, dev %s", out, size / 2**20, dev_scores)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
