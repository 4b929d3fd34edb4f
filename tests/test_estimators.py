"""The small models are scikit-learn estimators: parameters in, `get_params`/`set_params`/`clone` work, and
what a saved model records is what `get_params` gives (nothing dropped by a hand-kept list)."""

from __future__ import annotations

import pytest
from sklearn.base import clone

from logai.slm.classifier import RUNTIME_PARAMS, SlmClassifier
from logai.slm.head import HeadClassifier


@pytest.mark.parametrize("make", [lambda: SlmClassifier(epochs=2, min_epochs=1, lr=3e-4),
                                  lambda: HeadClassifier(hidden=32, epochs=5)])
def test_get_params_set_params_and_clone(make):
    model = make()
    params = model.get_params()
    copy = clone(model)
    assert copy is not model and copy.get_params() == params
    assert model.set_params(seed=7) is model and model.get_params()["seed"] == 7


def test_saved_parameters_are_every_training_parameter():
    model = SlmClassifier(epochs=2, min_epochs=1, patience=5)
    saved = model.params()
    assert saved == {k: v for k, v in model.get_params().items() if k not in RUNTIME_PARAMS}
    assert saved["min_epochs"] == 1 and "device" not in saved  # min_epochs was once dropped


def test_the_temperature_search_stays_finite_and_in_bounds():
    """A router two epochs into fine-tuning answered LogEval diagnosis right with tiny logits (|z| < 0.3):
    the likelihood kept rising as T fell, the search jumped T to e^-125, the logits overflowed, T came back
    NaN and every later prediction was class 0 (diagnosis F1 0.04 instead of 1.0). Its dev logits are
    `data/temperature_case.json`."""
    import json
    import math
    from pathlib import Path

    import torch

    from logai.calibration import fit_temperature

    case = json.loads((Path(__file__).parent / "data" / "temperature_case.json").read_text())
    found = fit_temperature(torch.tensor(case["logits"]), torch.tensor(case["gold"]), bounds=(0.25, 20.0))
    assert math.isfinite(found) and found == 0.25  # the sharpest the bounds allow
    gold = torch.arange(7).repeat(5)
    noisy = torch.randn(35, 7, generator=torch.Generator().manual_seed(0))
    assert 0.25 <= fit_temperature(noisy, gold, bounds=(0.25, 20.0)) <= 20.0
