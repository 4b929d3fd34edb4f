"""`logai eval` on the real benchmark data (skipped where ../shared/data is absent): CI's LogEval sample
(about 20 items per task, the whole logai system with the packaged MiniLM and SmolLM2), Loghub parsing and
SemParser semantics through the same code as the benchmarks."""

from __future__ import annotations

import json

from click.testing import CliRunner

from logai.cli.main import cli


def test_logeval_sample_with_the_packaged_models(data_dir, tmp_path):
    out = tmp_path / "run"
    args = ["eval", "logeval", "--data", str(data_dir / "logeval"), "--tasks", "parsing,anomaly,diagnosis,summary",
            "--limit", "10", "--train-limit", "200", "--epochs", "2", "--llm-check", "5", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    groups = report["groups"]
    assert set(groups) == {f"{t}/en/zero" for t in ("parsing", "anomaly", "diagnosis", "summary")}
    assert all(g["items"] == 10 for g in groups.values())
    assert groups["parsing/en/zero"]["scores"]["accuracy"] > 0.8
    assert groups["diagnosis/en/zero"]["scores"]["f1"] > 0.8
    assert groups["summary/en/zero"]["cost"]["llm_calls"] == 10  # summaries are written by the LLM
    assert report["manifest"]["llm"] and len(report["manifest"]["data_sha256"]) == 4
    assert report["manifest"]["options"]["train_limit"] == 200 and report["manifest"]["options"]["epochs"] == 2
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 40 and all(isinstance(r["prediction"], str) for r in rows)


def test_loghub_and_semparser_commands(data_dir, tmp_path):
    result = CliRunner().invoke(cli, ["eval", "loghub", "--data", str(data_dir), "--systems", "Apache,HDFS",
                                      "--out", str(tmp_path / "loghub")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "loghub" / "report.json").read_text())
    assert report["systems"]["Apache"]["GA"] == 1.0 and report["average"]["GA"] > 0.9
    result = CliRunner().invoke(cli, ["eval", "semparser", "--data", str(data_dir), "--systems", "Hadoop",
                                      "--out", str(tmp_path / "sem")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "sem" / "report.json").read_text())["average"]["f1"] > 0.8
    missing = CliRunner().invoke(cli, ["eval", "semparser", "--data", str(tmp_path), "--systems", "Hadoop"])
    assert missing.exit_code != 0 and "no SemParser gold" in missing.output
