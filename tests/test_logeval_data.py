"""LogEval loading and splitting, classification metrics, answer parsing, small-model inputs."""

from __future__ import annotations

import json

import pytest

from logai.evaluation.logeval import (
    LogEvalFormatError,
    find_logeval_file,
    folds_by_input,
    labelled_logs,
    load_logeval,
    split_by_input,
)
from logai.events import Event, Param
from logai.route.prompt import parse_answer
from logai.scores import accuracy, label_score, macro_f1
from logai.slm.inputs import event_text


def _write(path, items):
    path.write_text(json.dumps(items))
    return path


def _items(n_logs: int = 20, repeats: int = 3):
    out = []
    for i in range(n_logs):
        for r in range(repeats):
            out.append({"id": len(out), "instruction": f"prompt {r}: choose {{Processor CPU Caterr,Disk}}",
                        "input": f"\nlog entry:\nline {i}", "output": "abnormal" if i % 5 == 0 else "normal"})
    return out


def test_load_and_split_by_input(tmp_path):
    items = load_logeval(_write(tmp_path / "a.json", _items()))
    assert len(items) == 60 and items[0].log == "line 0"
    assert items[0].choices == ["Processor CPU Caterr", "Disk"]
    split = split_by_input(items, seed=1)
    parts = [{i.log for i in part} for part in (split.train, split.dev, split.test)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert sum(len(p) for p in parts) == 20
    for part in (split.dev, split.test):  # the rare label reaches every part
        assert any(i.output == "abnormal" for i in part)
    logs = labelled_logs(split.test)
    assert all(x.weight == 3 for x in logs) and len(logs) == len(parts[2])


def test_folds_by_input_are_stratified_and_cover_every_log(tmp_path):
    items = load_logeval(_write(tmp_path / "a.json", _items(n_logs=25)))
    fold_of = folds_by_input(items, 5, seed=3)
    assert set(fold_of) == {i.log for i in items} and set(fold_of.values()) == set(range(5))
    abnormal = {fold_of[i.log] for i in items if i.output == "abnormal"}
    assert abnormal == set(range(5))  # five rare logs, one per fold
    assert split_by_input(items, (0.8, 0.2, 0.0)).test == []  # no test part asked, none made
    with pytest.raises(ValueError, match="at least 2 folds"):
        folds_by_input(items, 1)


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a readable JSON"),
    ('{"a": 1}', "expected a JSON list"),
    ("[1]", "item 0 is not an object"),
    ('[{"instruction": "x", "input": "y"}]', r"lacks string field\(s\) output"),
])
def test_malformed_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(LogEvalFormatError, match=message):
        load_logeval(path)


def test_find_logeval_file(tmp_path):
    (tmp_path / "log_anormaly").mkdir()
    target = _write(tmp_path / "log_anormaly" / "evaluation_set_english_abnormal_detect_zero_shot.json", [])
    assert find_logeval_file(tmp_path, "anomaly", "en", "zero") == target
    with pytest.raises(FileNotFoundError):
        find_logeval_file(tmp_path, "anomaly", "zh", "zero")
    with pytest.raises(ValueError, match="unknown LogEval task"):
        find_logeval_file(tmp_path, "poetry")


def test_classification_metrics_by_hand():
    gold = ["a", "a", "b", "b", "c"]
    pred = ["a", "b", "b", "b", "a"]
    assert accuracy(gold, pred) == pytest.approx(3 / 5)
    a = label_score(gold, pred, "a")  # tp 1, fp 1, fn 1
    assert (a.precision, a.recall, a.f1, a.support) == (0.5, 0.5, 0.5, 2)
    # F1: a 0.5, b 2*2/(4+1) = 0.8, c 0
    assert macro_f1(gold, pred) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    with pytest.raises(ValueError):
        accuracy(["a"], [])


def test_parse_answer():
    assert parse_answer('{"label": "abnormal", "reason": "disk failed"}', ["normal", "abnormal"]) == (
        "abnormal", "disk failed")
    assert parse_answer('{"label": "normal", "reason": "routine hea', ["normal", "abnormal"]) == (
        "normal", "routine hea")  # cut off at max_tokens: the label is still read
    with pytest.raises(ValueError, match="not one of"):
        parse_answer('{"label": "maybe"}', ["normal", "abnormal"])


def test_event_text_keeps_meaning_and_folds_identifiers():
    event = Event(raw="", source="s", line=1, template="Receiving block <*> from <*> code <*> user <*>",
                  params=[Param("blk_123456789", "id", "block"), Param("10.0.0.1", "ip", None),
                          Param("137", "integer", None), Param("alice", "word", "user")])
    assert event_text(event) == "Receiving block <block> from <ip> code 137 user alice"
    assert event_text(Event(raw="plain line", source="s", line=1)) == "plain line"
