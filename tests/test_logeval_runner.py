"""Batch LogEval runs: metrics against hand-computed values, answer extraction, the runner end to end on
LogEval-format files (resume, report), and the `llm` system against the OpenAI-compatible server over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logai.evaluation.answers import anomaly_label, choice_label, template_answer
from logai.evaluation.logeval_runner import EvalOptions, LogEvalRunner
from logai.evaluation.text_metrics import (
    edit_distance,
    normalize_template,
    parsing_scores,
    rouge,
    spread,
    summary_scores,
    tokens,
)

FAULTS = ["Disk Failure", "Network Down"]


def test_text_metrics_by_hand():
    assert edit_distance("kitten", "sitting") == 3 and edit_distance("", "abc") == 3
    assert normalize_template(" a  <*> <*>  b<*><*>") == "a <*> b<*>"
    assert parsing_scores(["a <*>", "b c"], ["a  <*>", "b d"]) == {"accuracy": 0.5, "edit_distance": 0.5}
    r = rouge("the cat sat", "the cat ran")
    assert (r.rouge1, r.rouge2, r.rougeL) == pytest.approx((2 / 3, 0.5, 2 / 3))
    assert rouge("a b", "c d").rouge1 == 0.0
    # summaries: the mean over items; (2/3 + 0) / 2 for ROUGE-1, (1/2 + 0) / 2 for ROUGE-2
    assert summary_scores(["the cat sat", "x y"], ["the cat ran", "z"]) == pytest.approx(
        {"rouge1": 1 / 3, "rouge2": 0.25, "rougeL": 1 / 3})
    assert tokens("磁盘 故障 disk") == ["磁", "盘", "故", "障", "disk"]
    assert spread({"p1": 0.5, "p2": 1.0}) == {"mean": 0.75, "variance": 0.0625, "min": 0.5, "max": 1.0}


def test_extractive_summary_lists_template_phrases():
    from collections import Counter

    from logai.evaluation.summaries import extractive_summary, key_phrase, read_summary, summary_constraint

    assert key_phrase("RAS APP FATAL ciod : Error creating node map from file <*> : Bad address") == \
        "Error creating node map from file"
    assert key_phrase("<*> <*>") == ""
    templates = Counter({"Received block <*> of size <*>": 4, "Receiving block <*> src: <*>": 3, "<*>": 2,
                         "Received block <*> of size <*> from <*>": 1})
    assert extractive_summary(templates) == "Received block; Receiving block;"
    schema = summary_constraint(["Received block", "Receiving block"])
    assert schema["properties"]["events"]["items"] == {"enum": ["Received block", "Receiving block"]}
    assert read_summary('{"events": ["Receiving block", "Receiving block", "Received block"]}') == \
        "Receiving block; Received block;"
    with pytest.raises(ValueError, match="not a summary answer"):
        read_summary("20 x Receiving block")


def test_answers_are_read_the_logeval_way():
    assert anomaly_label("The log entry is abnormal.") == "abnormal"
    assert anomaly_label("normal") == "normal" and anomaly_label("It is not abnormal") == "normal"
    assert anomaly_label("这条日志异常", "zh") == "异常" and anomaly_label("正常", "zh") == "正常"
    assert choice_label("I think: network down, clearly", FAULTS) == "Network Down"
    assert choice_label("no idea", FAULTS) == ""
    assert template_answer("Sure.\nAnswer: 'generating core.<*>'\nmore") == "generating core.<*>"


def _write_logeval(root: Path) -> Path:
    """A small LogEval-format set: three tasks, three prompts each, logs repeated under every prompt."""
    def items(task_logs: list[tuple[str, str]], prompts: list[str]) -> list[dict]:
        out = []
        for log, label in task_logs:
            for prompt in prompts:
                out.append({"id": len(out), "instruction": prompt, "input": f"\nlog entry:\n{log}", "output": label})
        return out

    parsing = [(f"generating core.{n}", "generating core.<*>") for n in range(4)] + \
              [(f"session opened for user u{n} by (uid=0)", "session opened for user <*> by (uid=<*>)")
               for n in range(4)]
    anomaly = [(f"disk {n} failed: unrecoverable read error", "abnormal") for n in range(8)] + \
              [(f"kernel panic on node {n}", "abnormal") for n in range(8)] + \
              [(f"user {n} logged in", "normal") for n in range(16)] + \
              [(f"heartbeat ok from worker {n}", "normal") for n in range(16)]
    diagnosis = [(f"sda{n}: I/O error, dev sda, sector {n * 8}", FAULTS[0]) for n in range(12)] + \
                [(f"eth{n}: link is down", FAULTS[1]) for n in range(12)]
    files = {
        "log_parsing/evaluation_set_english_log_parsing_zero_shot.json":
            items(parsing, ["Parse into a template, answer after 'Answer'", "Template with <*>, after 'Answer'"]),
        "log_anormaly/evaluation_set_english_abnormal_detect_zero_shot.json":
            items(anomaly, ["Mark 'normal' or 'abnormal'", "Is it normal or abnormal?"]),
        "log_diagnosis/fault_diagnosis_zero_shot_evaluation_set_english.json":
            items(diagnosis, [f"Faults {{{','.join(FAULTS)}}}. Which one?", f"Pick from {{{','.join(FAULTS)}}}."]),
    }
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(json.dumps(content))
    return root


def test_runner_end_to_end_and_resume(tmp_path):
    data = _write_logeval(tmp_path / "data")
    out = tmp_path / "run"
    options = EvalOptions(data=data, out=out, system="slm", tasks=["parsing", "anomaly", "diagnosis"])
    report = LogEvalRunner(options, progress=False).run()
    groups = report["groups"]
    assert set(groups) == {"parsing/en/zero", "anomaly/en/zero", "diagnosis/en/zero"}
    assert groups["parsing/en/zero"]["items"] == 16  # parsing items are all scored (no training)
    assert groups["parsing/en/zero"]["scores"]["accuracy"] > 0.4
    # anomaly/diagnosis: --data doubles as --train, so only its test part (by log) is scored
    assert 0 < groups["anomaly/en/zero"]["items"] < 96
    assert groups["diagnosis/en/zero"]["scores"]["f1"] == pytest.approx(1.0)
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert all(set(r) == {"task", "lang", "shots", "id", "prediction"} for r in rows)
    assert len(rows) == sum(g["items"] for g in groups.values())
    assert (out / "report.md").is_file() and (out / "scores.png").is_file()
    manifest = report["manifest"]
    assert manifest["seed"] == 0 and len(manifest["data_sha256"]) == 3 and manifest["routers"]

    # interrupted: the last 10 predictions never written; the rerun answers only those, same file
    full = (out / "predictions.jsonl").read_text()
    lines = full.splitlines(keepends=True)
    (out / "predictions.jsonl").write_text("".join(lines[:-10]))
    again = LogEvalRunner(options, progress=False).run()
    assert (out / "predictions.jsonl").read_text() == full
    assert sum(g["answered_now"] for g in again["groups"].values()) == 10


def test_cross_fitting_scores_every_item_with_routers_that_never_saw_it(tmp_path):
    from logai.evaluation.logeval import folds_by_input, load_logeval

    data = _write_logeval(tmp_path / "data")
    out = tmp_path / "run"
    report = LogEvalRunner(EvalOptions(data=data, out=out, system="slm", tasks=["diagnosis"], folds=2),
                           progress=False).run()
    assert report["groups"]["diagnosis/en/zero"]["items"] == 48  # all of them, not a test split
    items = load_logeval(next(data.rglob("*diagnosis*.json")))
    fold_of = folds_by_input(items, 2)
    for fold in (0, 1):
        record = json.loads((out / "routers" / f"diagnosis-en-fold{fold}" / "router.json").read_text())
        seen = record["tasks"]["diagnosis"]["train_logs"] + record["tasks"]["diagnosis"]["dev_logs"]
        assert seen == sum(1 for f in fold_of.values() if f != fold)  # its own fold's logs stay out


def test_bad_options_and_files(tmp_path):
    with pytest.raises(ValueError, match="unknown system"):
        EvalOptions(data=tmp_path, out=tmp_path, system="gpt")
    with pytest.raises(ValueError, match="unknown tasks"):
        EvalOptions(data=tmp_path, out=tmp_path, tasks=["poetry"])
    with pytest.raises(ValueError, match="at least 1"):
        EvalOptions(data=tmp_path, out=tmp_path, concurrency=0)
    data = tmp_path / "data"
    (data / "log_parsing").mkdir(parents=True)
    (data / "log_parsing" / "evaluation_set_english_log_parsing_zero_shot.json").write_text("{broken")
    from logai.evaluation.logeval import LogEvalFormatError

    with pytest.raises(LogEvalFormatError, match="not a readable JSON"):
        LogEvalRunner(EvalOptions(data=data, out=tmp_path / "o", tasks=["parsing"]), progress=False).run()


def test_llm_system_over_http(tmp_path):
    from logai.llm.local import LocalBackend
    from logai.llm.openai_compat import OpenAICompatBackend
    from logai.llm.server import create_llm_app
    from tests.test_llm_openai import serving

    data = _write_logeval(tmp_path / "data")
    local = LocalBackend()  # the packaged SmolLM2, served over HTTP as vLLM would serve a model
    with serving(create_llm_app(local, "smollm2")) as base:
        options = EvalOptions(data=data, out=tmp_path / "run", system="llm", tasks=["anomaly", "diagnosis"],
                              limit=2, concurrency=2)
        report = LogEvalRunner(options, lambda: OpenAICompatBackend(base, "smollm2", timeout_s=60),
                               progress=False).run()
    local.close()
    for key in ("anomaly/en/zero", "diagnosis/en/zero"):
        group = report["groups"][key]
        assert group["items"] == 2 and group["cost"]["llm_calls"] == 2 and group["cost"]["llm_tokens"] > 0
    rows = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert {r["prediction"] for r in rows if r["task"] == "anomaly"} <= {"normal", "abnormal"}
    assert {r["prediction"] for r in rows if r["task"] == "diagnosis"} <= {*FAULTS, ""}
    assert report["manifest"]["llm"] == "OpenAICompatBackend"
