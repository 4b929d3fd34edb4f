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
