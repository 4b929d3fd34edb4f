"""LocalBackend on the real packaged SmolLM2 weights, the label scorer, and where model files come from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from logai.llm.local import LocalBackend
from logai.llm.model_files import ModelNotFoundError, packaged_gguf, publish, resolve_model
from logai.llm.types import Constraint, GenerationRequest, SamplingParams

LOG_LINES = [
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 "
    "terminating",
    "081109 203807 222 INFO dfs.DataNode$PacketResponder: PacketResponder 0 for block blk_-6952295868487656571 "
    "terminating",
    "081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: "
    "10.251.73.220:50010 is added to blk_7128370237687728475 size 67108864",
]


def test_model_specs_resolve_to_local_directories(smollm_dir, tmp_path):
    assert packaged_gguf().suffix == ".gguf"
    assert (smollm_dir / "config.json").is_file() and (smollm_dir / "model.safetensors").is_file()
    assert resolve_model(None) == smollm_dir  # cached: no second conversion
    assert resolve_model(smollm_dir) == smollm_dir  # a HF directory is used as it is
    with pytest.raises(ModelNotFoundError, match="never downloaded"):
        resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match=r"config\.json"):
        resolve_model(tmp_path / "empty")


def test_a_model_copy_published_by_another_process_is_kept(tmp_path):
    """Two processes that dequantize at once: the second keeps the first one's copy, which may be loading."""
    target, ours = tmp_path / "model", tmp_path / "model.tmp2"
    for folder, text in ((target, "first"), (ours, "second")):
        folder.mkdir()
        (folder / "config.json").write_text(text)
    publish(ours, target)
    assert (target / "config.json").read_text() == "first" and not ours.exists()
    publish(target, tmp_path / "fresh")  # nobody there: moved into place
    assert (tmp_path / "fresh" / "config.json").is_file()


def test_models_loaded_by_several_threads_at_once_are_whole(tiny_model, tmp_path):
    """The service loads the LLM, the encoder and the head in background threads, and transformers keeps its
    loading state in module globals: without one load at a time, every one of these came back with its tied
    output head left on the meta device (`Cannot copy out of meta tensor`)."""
    import threading

    model, tokenizer = tiny_model
    model.save_pretrained(tmp_path / "tied")  # tied embeddings: the checkpoint has no lm_head.weight
    tokenizer.save_pretrained(tmp_path / "tied")
    errors: list[BaseException] = []

    def load(dtype: str) -> None:
        try:
            backend = LocalBackend(tmp_path / "tied", dtype=dtype, speculation="none", device="cpu")
            assert not backend.model.get_output_embeddings().weight.is_meta
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(dtype,)) for dtype in ("float32", "bfloat16", "float32")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.fixture(scope="module")
def real_fp32(smollm_dir):
    return {spec: LocalBackend(smollm_dir, dtype="float32", speculation=spec, device="cpu")
            for spec in ("none", "suffix", "recycling")}


def test_real_weights_speculative_equals_greedy(real_fp32):
    """On the real model (float32, where a 1-token and an n-token pass agree), every proposer reproduces
    plain greedy on log-copying prompts, and speculation actually saves forward passes. (Two lines of different
    templates: the second of LOG_LINES shares the first's template and added 8 s of decoding to the suite.)"""
    for line in LOG_LINES[::2]:
        request = GenerationRequest(messages=[{"role": "user", "content": f"Repeat this log line twice:\n{line}"}],
                                    sampling=SamplingParams(max_tokens=64))
        expected = real_fp32["none"].generate([request])[0]
        got = {spec: real_fp32[spec].generate([request])[0] for spec in ("suffix", "recycling")}
        for spec, result in got.items():
            assert result.token_ids == expected.token_ids, (spec, line)
        assert got["suffix"].forward_passes < expected.forward_passes


def test_real_weights_json_verdicts_are_schema_valid():
    backend = LocalBackend(speculation="suffix")  # the default: packaged model, bf16 where supported
    schema = {"type": "object", "properties": {"label": {"enum": ["normal", "abnormal"]},
                                               "reason": {"type": "string", "maxLength": 60}},
              "required": ["label", "reason"], "additionalProperties": False}
    for line in LOG_LINES:
        result = backend.chat([{"role": "user", "content": f"Is this log line normal or abnormal?\n{line}"}],
                              constraint=Constraint.json_schema(schema), max_tokens=96)
        value = json.loads(result.text)
        assert value["label"] in {"normal", "abnormal"} and isinstance(value["reason"], str)


def test_label_scorer_on_real_weights(real_fp32):
    backend = real_fp32["none"]
    messages = [{"role": "user", "content": "Answer yes or no: is 'kernel panic - not syncing' an error?"}]
    scores = backend.score_labels(messages, ["yes", "no"])
    assert abs(sum(scores.probs) - 1.0) < 1e-6 and all(0 < p < 1 for p in scores.probs)
    # labels sharing a first token are scored by their full likelihood instead
    shared = backend.score_labels(messages, ["error", "errors", "warning"])
    assert abs(sum(shared.probs) - 1.0) < 1e-6
    # temperature scaling: fitted on examples, and it changes the sharpness, never the ranking
    examples = [([{"role": "user", "content": f"Is '{text}' an error? Answer yes or no."}], gold)
                for text, gold in [("segfault in worker", "yes"), ("request served in 3 ms", "no"),
                                   ("disk failure on sda", "yes"), ("user logged in", "no")]]
    before = backend.scorer.logits(examples[0][0], ["yes", "no"])
    temperature = backend.scorer.fit_temperature(examples, ["yes", "no"])
    assert 0.05 <= temperature <= 20.0
    after = backend.score_labels(examples[0][0], ["yes", "no"])
    assert (before[0] > before[1]) == (after.probs[0] > after.probs[1])


def test_cli_generate_with_choice_constraint(tmp_path):
    logai = str(Path(sys.executable).with_name("logai"))
    result = subprocess.run([logai, "llm", "generate", "Is 'disk failure' normal or abnormal?", "--choice", "normal",
                             "--choice", "abnormal", "--stats"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in {"normal", "abnormal"}
    assert "forward passes" in result.stderr
    bad = subprocess.run([logai, "llm", "generate", "x", "--model", str(tmp_path / "nope")], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode != 0 and "no local model" in bad.stderr
