"""Integration: the accuracy part of pipelines/bench_parsing.py on ../shared/data (skipped when absent)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.data


def test_loghub2_grouping_accuracy_floor(data_dir):
    from pipelines.bench_parsing import accuracy

    result = accuracy(data_dir, "loghub2")
    assert result["n_systems"] >= 12
    assert result["average"]["logai"]["GA"] >= 0.85
    # and logai must not lose to the vanilla drain3 baseline measured in the same run
    assert result["average"]["logai"]["PA"] > result["average"]["drain3"]["PA"]


def test_parsed_templates_are_deterministic(data_dir):
    from logai.evaluation.benchmark_logs import load_labelled
    from logai.evaluation.parsing_run import loghub_templates

    log = load_labelled(data_dir, "Mac", "loghub2")
    assert loghub_templates("Mac", log.lines) == loghub_templates("Mac", log.lines)
