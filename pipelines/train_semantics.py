"""Train the concept–instance pair model on SemParser's *training* annotations only.

    python pipelines/train_semantics.py --train ../shared/data/semparser/train \
        --out logai/semantics/pair_model.json

Reports leave-one-file-out cross-validated pair F1 on the training files (no test data is read), then fits
on all of them and writes the model (plain JSON, a manifest with data hashes) that logai ships.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logai.evaluation.pair_metrics import PairScore  # noqa: E402
from logai.evaluation.semparser_data import AnnotatedMessage, read_training_file  # noqa: E402
from logai.semantics.model import PairModel  # noqa: E402


def pair_f1(model: PairModel, messages: list[AnnotatedMessage]) -> float:
    score = PairScore()
    for msg in messages:
        score.add([(msg.tokens[c], msg.tokens[i]) for c, i in model.predict(msg.tokens)], msg.pairs)
    return score.f1


def fit(messages: list[AnnotatedMessage], **params) -> PairModel:
    return PairModel(**params).fit([m.tokens for m in messages], [set(m.pair_index) for m in messages])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, default=ROOT.parent / "shared" / "data" / "semparser" / "train")
    ap.add_argument("--out", type=Path, default=ROOT / "logai" / "semantics" / "pair_model.json")
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--threshold", type=float, default=0.5)
    args = ap.parse_args()

    files = sorted(args.train.glob("*.train"))
    if not files:
        sys.exit(f"no *.train files under {args.train}")
    by_file = {f.name: read_training_file(f) for f in files}
    params = {"C": args.C, "threshold": args.threshold}

    cv = {}
    for held_out in by_file:
        train = [m for name, msgs in by_file.items() if name != held_out for m in msgs]
        cv[held_out] = round(pair_f1(fit(train, **params), by_file[held_out]), 4)
        print(f"  leave-out {held_out:28s} pair F1 {cv[held_out]:.3f}")
    everything = [m for msgs in by_file.values() for m in msgs]
    model = fit(everything, **params)
    manifest = {
        "trained_on": {name: hashlib.sha256((args.train / name).read_bytes()).hexdigest()[:16] for name in by_file},
        "messages": len(everything),
        "pairs": sum(len(m.pairs) for m in everything),
        "cv_pair_f1_leave_one_file_out": cv,
        "cv_pair_f1_mean": round(sum(cv.values()) / len(cv), 4),
        "features": len(model.weights_ or {}),
    }
    model.save(args.out, manifest)
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
