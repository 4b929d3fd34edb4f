"""Decoding benchmark: plain greedy vs transformers prompt lookup vs logai's suffix-tree and token-recycling
speculation, and constrained vs unconstrained decoding, with the packaged SmolLM2-135M-Instruct.

    python pipelines/bench_decoding.py --out reports/decoding

Prompts are built from ../shared/data: template extraction for one log line (Loghub-2k), anomaly verdict
with a reason as JSON (LogEval anomaly items), fault diagnosis as JSON (LogEval diagnosis items), a summary
of 20 lines (Loghub-2k); plus general prompts that do not repeat their input. Every method decodes every
prompt greedily at batch 1 on the same model and dtype in the same run; one backend per method serves the
prompts in order, as a server would (so the suffix tree's global cache warms up as it goes). Reported: wall
time and tokens/s per prompt, speedup over plain greedy as the ratio of tokens/s (median per task),
acceptance rate, whether every speculative output equals the plain greedy output, the per-token cost of
the JSON constraint, and the share of constrained outputs that parse and match their schema.
Writes report.json, report.md and speedup.png.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from logai.llm.local import LocalBackend  # noqa: E402
from logai.llm.types import Constraint, GenerationRequest, SamplingParams  # noqa: E402
from pipelines.reporting import write_report  # noqa: E402

DATA = Path(os.environ.get("LOGAI_BENCH_DATA", ROOT.parent / "shared" / "data"))
METHODS = ("plain", "prompt_lookup", "suffix", "recycling")
GENERAL = [
    "Write a short poem about autumn leaves.",
    "Explain in a few sentences why the sky is blue.",
    "Give three tips for learning a new language.",
    "What is the difference between a list and a tuple in Python?",
    "Describe a pleasant morning routine.",
    "Why do cats purr? Answer briefly.",
]


def anomaly_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {"label": {"enum": ["normal", "abnormal"]},
                                             "reason": {"type": "string", "maxLength": 200}},
            "required": ["label", "reason"], "additionalProperties": False}


def diagnosis_schema(faults: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": {"fault": {"enum": faults},
                                             "reason": {"type": "string", "maxLength": 200}},
            "required": ["fault", "reason"], "additionalProperties": False}


def _loghub_lines(system: str) -> list[str]:
    path = DATA / "loghub_2k" / system / f"{system}_2k.log"
    return path.read_text(errors="replace").splitlines()


def build_prompts(per_task: int) -> list[dict[str, Any]]:
    prompts: list[dict[str, Any]] = []
    systems = sorted(p.name for p in (DATA / "loghub_2k").iterdir() if p.is_dir())
    for i in range(per_task):
        system = systems[i % len(systems)]
        line = _loghub_lines(system)[100 + 37 * i]
        prompts.append({"task": "template", "repetitive": True, "messages": [{"role": "user", "content":
                        "Extract the template of this log line: copy it and replace every variable part "
                        f"(numbers, ids, paths, addresses) with <*>. Output only the template.\n{line}"}]})
    anomaly = json.loads((DATA / "logeval/log_anormaly/evaluation_set_english_abnormal_detect_zero_shot.json")
                         .read_text())
    for item in anomaly[:: max(1, len(anomaly) // per_task)][:per_task]:
        prompts.append({"task": "anomaly_json", "repetitive": True, "constraint": anomaly_schema(),
                        "messages": [{"role": "user", "content": "Is this log entry normal or abnormal? Answer as "
                                      'JSON {"label": ..., "reason": ...}.' + item["input"]}]})
    diagnosis = json.loads((DATA / "logeval/log_diagnosis/fault_diagnosis_zero_shot_evaluation_set_english.json")
                           .read_text())
    for item in diagnosis[:: max(1, len(diagnosis) // per_task)][:per_task]:
        faults = [f.strip() for f in re.search(r"\{(.*?)\}", item["instruction"]).group(1).split(",")]
        prompts.append({"task": "diagnosis_json", "repetitive": True, "constraint": diagnosis_schema(faults),
                        "messages": [{"role": "user", "content": item["instruction"] + ". Answer as JSON "
                                      '{"fault": ..., "reason": ...}.' + item["input"]}]})
    for i in range(per_task):
        system = systems[(i * 3 + 1) % len(systems)]
        lines = _loghub_lines(system)[300 + 50 * i: 320 + 50 * i]
        prompts.append({"task": "summary", "repetitive": True, "messages": [{"role": "user", "content":
                        "Summarize these 20 log lines: list each kind of event with an example line.\n"
                        + "\n".join(lines)}]})
    for text in GENERAL[:per_task]:
        prompts.append({"task": "general", "repetitive": False, "messages": [{"role": "user", "content": text}]})
    return prompts


def schema_valid(text: str, schema: dict[str, Any]) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    if not isinstance(value, dict) or set(value) != set(schema["required"]):
        return False
    for key, rule in schema["properties"].items():
        if "enum" in rule and value[key] not in rule["enum"]:
            return False
        if rule.get("type") == "string" and (not isinstance(value[key], str)
                                             or len(value[key]) > rule.get("maxLength", 10**9)):
            return False
    return True


def run_hf(backend: LocalBackend, request: GenerationRequest, prompt_lookup: bool) -> dict[str, Any]:
    """transformers' own generate: plain greedy or prompt lookup decoding (the baseline to beat)."""
    from transformers import LogitsProcessorList

    from logai.llm.grammar import GrammarLogitsProcessor

    ids = torch.tensor([backend.prompt_ids(request)], device=backend.device)
    processors = LogitsProcessorList()
    if request.constraint is not None:
        processors.append(GrammarLogitsProcessor([backend.grammars.matcher(request.constraint)], backend.grammars))
    extra = {"prompt_lookup_num_tokens": 10} if prompt_lookup else {}
    started = time.perf_counter()
    with torch.inference_mode():
        out = backend.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                     max_new_tokens=request.sampling.max_tokens, logits_processor=processors,
                                     eos_token_id=sorted(backend.eos_ids), pad_token_id=min(backend.eos_ids),
                                     **extra)
    seconds = time.perf_counter() - started
    tokens = []
    for token in out[0, ids.shape[1]:].tolist():
        if token in backend.eos_ids:
            break
        tokens.append(token)
    return {"seconds": seconds, "tokens": tokens, "text": backend.tokenizer.decode(tokens, skip_special_tokens=True),
            "drafted": 0, "accepted": 0, "forward_passes": None}


def best_of(repeats: int, run, backend: LocalBackend, *args) -> dict[str, Any]:
    """The fastest of `repeats` calls of run(backend, *args) (timings on a shared machine are noisy). A
    speculative backend's proposer is restored before each repeat, so no repeat drafts from the output of
    the same prompt."""
    snapshot = copy.deepcopy(backend.proposer) if backend.proposer is not None else None
    results = []
    for _ in range(repeats):
        if snapshot is not None:
            backend.proposer = copy.deepcopy(snapshot)
        results.append(run(backend, *args))
    return min(results, key=lambda r: r["seconds"])


def run_logai(backend: LocalBackend, request: GenerationRequest) -> dict[str, Any]:
    started = time.perf_counter()
    result = backend.generate([request])[0]
    return {"seconds": time.perf_counter() - started, "decode_seconds": result.timings.decode_s,
            "tokens": result.token_ids, "text": result.text,
            "drafted": result.drafted_tokens, "accepted": result.accepted_tokens,
            "forward_passes": result.forward_passes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-task", type=int, default=6)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--repeats", type=int, default=2, help="time each run this many times, keep the fastest")
    ap.add_argument("--dtype", default=None, help="default: bf16 where supported")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "decoding")
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    prompts = build_prompts(args.per_task)
    backends = {"plain": LocalBackend(speculation="none", dtype=args.dtype),
                "suffix": LocalBackend(speculation="suffix", dtype=args.dtype),
                "recycling": LocalBackend(speculation="recycling", dtype=args.dtype)}
    args.model_dtype = str(backends["plain"].model.dtype).replace("torch.", "")
    warm = GenerationRequest(messages=[{"role": "user", "content": "Say hello."}],
                             sampling=SamplingParams(max_tokens=8))
    for backend in backends.values():
        backend.generate([warm])
    rows: list[dict[str, Any]] = []
    for n, prompt in enumerate(prompts):
        constraint = Constraint.json_schema(prompt["constraint"]) if "constraint" in prompt else None
        request = GenerationRequest(messages=prompt["messages"], constraint=constraint,
                                    sampling=SamplingParams(max_tokens=args.max_tokens))
        k = args.repeats
        runs = {"plain": best_of(k, run_logai, backends["plain"], request),
                # transformers' assisted generation feeds logits processors candidate tokens it may later
                # reject, which corrupts a stateful grammar matcher: prompt lookup runs unconstrained only
                "prompt_lookup": best_of(k, run_hf, backends["plain"], request, True) if constraint is None else None,
                "suffix": best_of(k, run_logai, backends["suffix"], request),
                "recycling": best_of(k, run_logai, backends["recycling"], request)}
        row: dict[str, Any] = {"task": prompt["task"], "repetitive": prompt["repetitive"],
                               "constrained": constraint is not None}
        base = runs["plain"]
        for method, run in runs.items():
            if run is None:
                row[method] = None
                continue
            row[method] = {"seconds": run["seconds"], "tokens": len(run["tokens"]),
                           "tokens_per_s": len(run["tokens"]) / run["seconds"] if run["seconds"] else 0.0,
                           # tokens/s ratio: equals the wall-time ratio when outputs are identical, and stays
                           # fair when floating-point drift makes a method stop at another length
                           "speedup": (len(run["tokens"]) / run["seconds"]) / (len(base["tokens"]) / base["seconds"])
                           if run["tokens"] and base["tokens"] else base["seconds"] / run["seconds"],
                           "acceptance": run["accepted"] / run["drafted"] if run["drafted"] else None,
                           "forward_passes": run["forward_passes"],
                           "identical_to_greedy": run["tokens"] == base["tokens"]}
        if constraint is not None:
            free = run_logai(backends["plain"], GenerationRequest(
                messages=prompt["messages"], sampling=SamplingParams(max_tokens=args.max_tokens)))
            row["constraint_cost"] = {
                # decode time only (prefill excluded), so different output lengths compare fairly
                "constrained_ms_per_token": 1000 * base["decode_seconds"] / max(1, len(base["tokens"])),
                "unconstrained_ms_per_token": 1000 * free["decode_seconds"] / max(1, len(free["tokens"])),
                "schema_valid": {m: schema_valid(runs[m]["text"], prompt["constraint"])
                                 for m in ("plain", "suffix", "recycling")}}
        row["plain_text"] = base["text"][:300]
        rows.append(row)
        print(f"[{n + 1}/{len(prompts)}] {prompt['task']:<15} " + "  ".join(
            f"{m} {row[m]['speedup']:.2f}x{'' if row[m]['identical_to_greedy'] else '!'}" for m in METHODS
            if row[m] is not None),
            flush=True)
    write_report(args.out, summarize(rows, args), markdown)
    plot(rows, args.out / "speedup.png")


def _method_summary(chosen: list[dict[str, Any]], m: str) -> dict[str, Any] | None:
    if not chosen:
        return None
    accepted = [r[m]["acceptance"] for r in chosen if r[m]["acceptance"] is not None]
    return {"median_speedup": statistics.median(r[m]["speedup"] for r in chosen),
            "min_speedup": min(r[m]["speedup"] for r in chosen),
            "median_tokens_per_s": statistics.median(r[m]["tokens_per_s"] for r in chosen),
            "identical": sum(r[m]["identical_to_greedy"] for r in chosen), "prompts": len(chosen),
            "acceptance": statistics.mean(accepted) if accepted else None}


def summarize(rows: list[dict[str, Any]], args) -> dict[str, Any]:
    tasks = sorted({r["task"] for r in rows}, key=lambda t: (t == "general", t))
    summary: dict[str, Any] = {}
    for task in [*tasks, "all repetitive"]:
        picked = [r for r in rows if (r["task"] == task if task != "all repetitive" else r["repetitive"])]
        summary[task] = {m: _method_summary([r for r in picked if r[m] is not None], m) for m in METHODS}

    costs = [r["constraint_cost"] for r in rows if "constraint_cost" in r]
    constraint = {
        "median_overhead": statistics.median(c["constrained_ms_per_token"] / c["unconstrained_ms_per_token"] - 1
                                             for c in costs),
        "valid": {m: sum(c["schema_valid"][m] for c in costs) for m in ("plain", "suffix", "recycling")},
        "outputs": len(costs)} if costs else None
    import platform

    return {"protocol": __doc__, "model": "SmolLM2-135M-Instruct (packaged GGUF, dequantized)",
            "dtype": args.model_dtype,
            "device": "cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(),
            "machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "max_tokens": args.max_tokens, "repeats": args.repeats, "summary": summary, "constraint": constraint,
            "prompts": rows}


def markdown(report: dict[str, Any]) -> str:
    out = ["# Decoding benchmark", "", f"Model {report['model']}, dtype {report['dtype']}, device "
           f"{report['device']}, {report['threads']} threads, greedy, batch 1, max {report['max_tokens']} tokens, "
           f"fastest of {report['repeats']} timings per run.",
           "", "| task | prompts | " + " | ".join(f"{m} speedup (median / min)" for m in METHODS[1:])
           + " | identical to greedy | acceptance suffix / recycling |",
           "| --- | --- | " + " | ".join("---" for _ in METHODS[1:]) + " | --- | --- |"]
    for task, row in report["summary"].items():
        ident = "/".join(f"{row[m]['identical']}" if row[m] else "-" for m in METHODS[1:])
        acc = " / ".join(f"{row[m]['acceptance']:.2f}" if row[m] and row[m]["acceptance"] is not None else "-"
                         for m in ("suffix", "recycling"))
        out.append(f"| {task} | {row['plain']['prompts']} | " + " | ".join(
            f"**{row[m]['median_speedup']:.2f}x** / {row[m]['min_speedup']:.2f}x" if row[m] else "n/a (constrained)"
            for m in METHODS[1:]) + f" | {ident} of {row['plain']['prompts']} | {acc} |")
    plain = report["summary"]["all repetitive"]["plain"]["median_tokens_per_s"]
    out += ["", f"Plain greedy: {plain:.1f} tokens/s median on the log tasks. Identical-to-greedy counts are for "
            "prompt lookup / suffix / recycling."]
    if report["constraint"]:
        c = report["constraint"]
        out += ["", f"JSON-schema constraint: median per-token overhead **{100 * c['median_overhead']:.1f}%** "
                f"(plain greedy, constrained vs unconstrained, same prompts); schema-valid outputs: "
                + ", ".join(f"{m} {v}/{c['outputs']}" for m, v in c["valid"].items()) + "."]
    out += ["", "![speedup per prompt](speedup.png)"]
    return "\n".join(out) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(10, 4))
    for offset, method in enumerate(METHODS[1:]):
        shown = [(i, r[method]["speedup"]) for i, r in enumerate(rows) if r[method] is not None]
        ax.scatter([i + 0.2 * (offset - 1) for i, _ in shown], [v for _, v in shown], label=method, s=18)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xticks(range(len(rows)), [r["task"] for r in rows], rotation=90, fontsize=7)
    ax.set_ylabel("speedup over plain greedy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
