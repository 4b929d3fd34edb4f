"""Integration: SemParser pair F1 through the product path on one system (skipped without the data)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.data


def test_pair_f1_floor_on_linux(data_dir):
    if not (data_dir / "semparser").is_dir():
        pytest.skip("SemParser data not found")
    from logai.evaluation.semantics_run import semparser_scores

    assert semparser_scores(data_dir, "Linux")["f1"] >= 0.90


def test_shipped_model_is_reproducible_from_the_training_data(data_dir, tmp_path):
    from logai.semantics.annotator import DEFAULT_MODEL
    from logai.semantics.model import PairModel
    from pipelines.train_semantics import fit, read_training_file

    train_dir = data_dir / "semparser" / "train"
    if not train_dir.is_dir():
        pytest.skip("SemParser training data not found")
    messages = [m for f in sorted(train_dir.glob("*.train")) for m in read_training_file(f)]
    shipped = PairModel.load(DEFAULT_MODEL)
    retrained = fit(messages, C=shipped.C, threshold=shipped.threshold)
    assert set(retrained.weights_) == set(shipped.weights_)
    assert retrained.weights_ == pytest.approx(shipped.weights_, abs=1e-6)
    assert retrained.bias_ == pytest.approx(shipped.bias_, abs=1e-6)
