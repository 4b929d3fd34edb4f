"""Train logai's router: a fine-tuned MiniLM per task, its routing threshold and the error-prone case library.

    python pipelines/train_slm.py --data ../shared/data/logeval --tasks anomaly,diagnosis --out models/router

Each task's LogEval file (English, zero-shot questions; the log and its label are what is used) is split by
distinct log into train/dev/test (60/20/20, stratified by label, `--seed`). The small model trains on train
(each log weighted by how many items ask about it), calibrates on dev, and dev's mistakes and doubts become
cases. Test logs are never used here: the manifest lists how many there are so a benchmark can check.
`--llm-reasons` has the configured LLM write each case's reason (default: a template explanation).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logai.config import load_settings  # noqa: E402
from logai.evaluation.logeval import find_logeval_file, labelled_logs, load_logeval, split_by_input  # noqa: E402
from logai.pipeline import Pipeline  # noqa: E402
from logai.route.cases import CaseLibrary  # noqa: E402
from logai.route.training import TaskTraining, save_router, train_task  # noqa: E402
from logai.slm.classifier import SlmClassifier  # noqa: E402
from logai.slm.embeddings import SentenceEmbedder  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder holding LogEval-format files")
    parser.add_argument("--tasks", default="anomaly,diagnosis")
    parser.add_argument("--lang", default="en", choices=["en", "zh"])
    parser.add_argument("--out", type=Path, default=Path("models/router"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--budget", type=float, default=0.3, help="most dev items the threshold may route")
    parser.add_argument("--llm-accuracy", type=float, default=0.8,
                        help="assumed LLM accuracy on routed items when calibrating (negative: pure budget)")
    parser.add_argument("--llm-reasons", action="store_true", help="the configured LLM writes case reasons")
    parser.add_argument("--llm-check", type=int, default=40,
                        help="dev logs the configured LLM answers to measure its accuracy (0: skip)")
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings(args.config)
    pipeline = Pipeline(settings)
    backend = None
    if args.llm_reasons:
        from logai.llm.factory import build_backend

        backend = build_backend(settings.llm)
    trained: dict[str, TaskTraining] = {}
    data_files = {}
    for task in args.tasks.split(","):
        path = find_logeval_file(args.data, task, args.lang, "zero")
        data_files[task] = {"file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        split = split_by_input(load_logeval(path), seed=args.seed)
        data_files[task]["test_logs"] = len({item.log for item in split.test})
        trained[task] = train_task(
            task, labelled_logs(split.train), labelled_logs(split.dev), pipeline,
            classifier=SlmClassifier(epochs=args.epochs, seed=args.seed), budget=args.budget,
            llm_accuracy=args.llm_accuracy if args.llm_accuracy >= 0 else None, reason_backend=backend)
    library = CaseLibrary(SentenceEmbedder())
    library.add([case for result in trained.values() for case in result.cases])
    save_router(args.out, trained, library, data=data_files, seed=args.seed, lang=args.lang)
    if args.llm_check:  # the LLM's accuracy where it would be asked: the router routes only where it pays
        from logai.llm.factory import build_backend
        from logai.route.llm_accuracy import record_llm_accuracy

        print(record_llm_accuracy(args.out, backend or build_backend(settings.llm),
                                  {task: result.dev for task, result in trained.items()}, args.llm_check))
    for task, result in trained.items():
        print(f"{task}: {result.report}")
    print(f"router saved to {args.out} ({len(library)} cases)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
