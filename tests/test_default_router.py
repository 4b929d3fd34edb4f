"""The default router that ships with logai: verdicts with no model folder and no data, routing that
weighs the LLM's measured accuracy, and operators' corrections that take effect at once, survive a restart
and can be undone. On the real packaged MiniLM and the committed artifact."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from logai.bootstrap import build_service
from logai.config import RouteConfig, Settings, StoreConfig
from logai.events import Event
from logai.llm.types import GenerationResult
from logai.paths import DEFAULT_ROUTER
from logai.route.analysis import build_router
from logai.route.llm_accuracy import measure_llm_accuracy
from logai.route.training import load_router
from logai.slm.inputs import LEVEL_SEP

ERROR_LINE = "2026-11-30 10:00:01 ERROR payments: charge failed for order 42: upstream timed out"
INFO_LINE = "2026-11-30 10:00:02 INFO payments: charge ok for order 43 in 12 ms"


@pytest.fixture(scope="module")
def router():
    return load_router(DEFAULT_ROUTER)


def _event(text: str, level: str | None = None) -> Event:
    return Event(raw=text, source="t", line=1, content=text, template=text, level=level)


def test_the_artifact_is_small_and_says_how_it_was_made():
    size = sum(f.stat().st_size for f in DEFAULT_ROUTER.rglob("*") if f.is_file())
    assert size <= 10 * 2**20, size
    record = json.loads((DEFAULT_ROUTER / "router.json").read_text())
    assert record["seed"] == 0 and len(record["commit"]) == 40
    assert all(len(digest) == 64 for digest in record["data"].values()) and record["data"]
    anomaly = record["tasks"]["anomaly"]
    assert set(anomaly["dev"]) >= {"f1", "fpr"} and anomaly["labels"] == ["abnormal", "normal"]


def test_every_event_gets_a_verdict_with_no_model_dir_and_no_data(router):
    verdicts = router.analyze([_event("upstream timed out, charge failed", "ERROR"),
                               _event("charge ok in 12 ms", "INFO")], "anomaly")
    assert [v.label for v in verdicts] == ["abnormal", "normal"]
    for v in verdicts:
        assert 0.5 <= v.confidence <= 1.0 and 0.0 <= v.uncertainty <= 1.0
        assert v.path in ("slm", "slm_fallback", "llm") and v.reason


def test_a_router_loaded_while_another_thread_loads_a_bfloat16_model_still_judges():
    """transformers sets torch's process-wide default dtype to the one it loads a model in (bfloat16 for the LLM
    where the CPU has it) until the load ends. The service loads the LLM in a background thread while it loads
    the router: a CI run caught the head built in bfloat16 then, and every verdict failed ('mat1 and mat2 must
    have the same dtype'). Here the default is bfloat16 while the router loads and while it judges."""
    import torch

    torch.set_default_dtype(torch.bfloat16)
    try:
        router = load_router(DEFAULT_ROUTER)
        head = router.models["anomaly"]
        assert {p.dtype for p in head.model_.parameters()} == {torch.float32}
        verdicts = router.analyze([_event("upstream timed out, charge failed", "ERROR")], "anomaly",
                                  choices=[["abnormal", "normal"]])
    finally:
        torch.set_default_dtype(torch.float32)
    assert [v.label for v in verdicts] == ["abnormal"]


def test_the_product_never_reads_the_benchmark_data(tmp_path):
    """Outside `logai/evaluation` no module names ../shared/data, and `logai analyze` answers from a folder
    with no data next to it."""
    package = Path(__file__).resolve().parents[1] / "logai"
    for module in package.rglob("*.py"):
        if "evaluation" not in module.parts:
            assert "shared/data" not in module.read_text(), module
    (tmp_path / "in.log").write_text(ERROR_LINE + "\n" + INFO_LINE + "\n")
    out = subprocess.run([str(Path(sys.executable).with_name("logai")), "analyze", "--no-llm", "--input",
                          "in.log"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    labels = [json.loads(line)["label"] for line in out.stdout.splitlines()]
    assert labels == ["abnormal", "normal"]


def test_analyze_reads_a_file_in_its_detected_format_one_verdict_per_record(tmp_path):
    """A Java log with a stack trace, as `logai parse` reads it: the format is detected and the trace belongs to
    its record, so five records get five verdicts, not one per physical line."""
    head = "2026-11-30 10:00:0{} {} [exec-1] c.e.payments.Gateway - {}"
    lines = [head.format(1, "INFO ", "charge ok for order 41"),
             head.format(2, "ERROR", "Unhandled exception for order 42"),
             "java.net.SocketTimeoutException: Read timed out", "\tat java.base/java.net.Socket.read(Socket.java:1)",
             "\tat c.e.payments.Gateway.charge(Gateway.java:88)",
             head.format(3, "INFO ", "charge ok for order 43"), head.format(4, "INFO ", "charge ok for order 44"),
             head.format(5, "WARN ", "retrying order 45")]
    (tmp_path / "app.log").write_text("\n".join(lines) + "\n")
    from click.testing import CliRunner

    from logai.cli.main import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["analyze", "--no-llm", "--input", str(tmp_path / "app.log")])
    assert result.exit_code == 0, result.output
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [v["line"] for v in verdicts] == [1, 2, 6, 7, 8]
    # then, on stderr, what a person reads: the counts, and the templates of the verdicts that are not normal
    assert [v["line"] for v in verdicts if v["label"] != "normal"] == [2]  # the record with the trace
    summary = result.stderr.splitlines()
    assert summary[0] == (f"logai analyze: 5 verdicts for {tmp_path / 'app.log'} (log4j): 4 normal (80.0%), "
                          "1 abnormal (20.0%); decided by slm 5")
    assert summary[1:] == ["       1  abnormal  Unhandled exception for order <*>"]
    bad = runner.invoke(cli, ["analyze", "--no-llm", "--format", "nope", "--input", str(tmp_path / "app.log")])
    assert bad.exit_code == 1 and "unknown log format 'nope'" in bad.output and bad.exception is not None
    assert isinstance(bad.exception, SystemExit)  # click's one-line error, not a traceback


class _RandomLlm:
    """A deliberately bad LLM: a random label from the offered ones (the JSON the router's grammar asks for)."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)
        self.calls = 0

    def generate(self, requests):
        self.calls += len(requests)
        return [GenerationResult(text=json.dumps({"label": self.rng.choice(["normal", "abnormal"]),
                                                  "reason": "guess"}), token_ids=[], logprobs=[],
                                 finish_reason="stop", prompt_tokens=10) for _ in requests]

    def close(self) -> None:
        pass


def test_a_random_llm_measures_badly_routes_nothing_and_changes_no_verdict():
    bad = _RandomLlm()
    router = load_router(DEFAULT_ROUTER, bad)
    inputs = [f"{LEVEL_SEP}disk {i} failed: unrecoverable read error" for i in range(10)] + \
             [f"{LEVEL_SEP}user {i} logged in" for i in range(10)]
    labels = ["abnormal"] * 10 + ["normal"] * 10
    measured = measure_llm_accuracy(router, "anomaly", inputs, labels, count=20)
    assert bad.calls == 20 and measured["llm_accuracy"] <= 0.75
    router.llm_accuracy["anomaly"] = measured["llm_accuracy"]
    router.thresholds["anomaly"] = -1.0  # every item is uncertain enough: only the accuracy rule can stop it
    calls = bad.calls
    events = [_event(text.split(LEVEL_SEP)[1]) for text in inputs]
    verdicts = router.analyze(events, "anomaly")
    routed = [v for v in verdicts if v.path == "llm"]
    assert len(routed) <= 1 and all(v.label == v.slm_label for v in verdicts if v.path != "llm")
    assert bad.calls - calls == len(routed)


def test_an_llm_that_lost_to_the_small_model_on_its_items_gets_none_of_them():
    """Measured on the same items, an LLM 0.8 right against a small model 0.99 right is not routed an item the
    small model is only 0.5 sure of; one that beat it there is. The shipped router records both figures."""
    router = load_router(DEFAULT_ROUTER, None)
    router.llm_accuracy["anomaly"], router.slm_accuracy["anomaly"] = 0.8, 0.99
    assert not router.llm_pays("anomaly", 0.5)
    router.slm_accuracy["anomaly"] = 0.7
    assert router.llm_pays("anomaly", 0.5) and not router.llm_pays("anomaly", 0.9)
    del router.slm_accuracy["anomaly"]  # no paired figure (an older router): confidence alone decides
    assert router.llm_pays("anomaly", 0.5)
    shipped = json.loads((DEFAULT_ROUTER / "router.json").read_text())["tasks"]["anomaly"]
    assert 0 <= shipped["llm_accuracy"] <= 1 and 0 <= shipped["slm_accuracy"] <= 1


def _settings(tmp_path: Path, **route) -> Settings:
    return Settings(data_dir=tmp_path / "data", route=RouteConfig(llm=False, **route))


def test_feedback_changes_the_next_verdict_survives_a_restart_and_undo_restores_it(tmp_path):
    service = build_service(_settings(tmp_path))
    analysis = service.analysis
    line = "2026-11-30 10:00:03 ERROR cache: eviction storm, 1200 keys dropped"
    before = analysis.analyze([service.parse_one(line, source="cache", format_name="generic")], "anomaly")[0][1]
    other = "normal" if before.label == "abnormal" else "abnormal"  # the operator says otherwise
    row = analysis.feedback(service.parse_one(line, source="cache", format_name="generic"), "anomaly", other,
                            "the operator knows better", who="alice")
    assert row["old_label"] == before.label and row["new_label"] == other and row["version"] == 1

    def verdict(svc, text):
        return svc.analysis.analyze([svc.parse_one(text, source="cache", format_name="generic")], "anomaly")[0][1]

    same = "2026-11-30 10:05:00 ERROR cache: eviction storm, 77 keys dropped"  # the same input: numbers fold
    after = verdict(service, same)
    assert after.label == other and after.path == "feedback" and "feedback" in after.reason
    service.close()

    restarted = build_service(_settings(tmp_path))  # a new process would find the same store and head version
    assert verdict(restarted, same).label == other and restarted.analysis.learner.version["anomaly"] == 1
    audit = restarted.store.feedback()
    assert [(r["who"], r["old_label"], r["new_label"]) for r in audit] == [("alice", before.label, other)]
    undone = restarted.analysis.undo_feedback(row["id"], "bob")
    assert undone is not None and undone["undone_by"] == "bob"
    restored = verdict(restarted, same)
    assert restored.label == before.label and restored.path == "slm"
    assert restarted.analysis.undo_feedback(row["id"]) is None  # already undone
    restarted.close()


def test_a_correction_or_undo_taken_by_another_process_on_the_store_is_synced(tmp_path):
    """Two services on one store, as `logai serve` and `logai daemon` are: what one corrects and undoes, the
    other applies at its next `sync_feedback`, and a sync with nothing new re-fits nothing."""
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    api, worker = (build_service(_settings(tmp_path / name).model_copy(update={"store": StoreConfig(url=shared)}))
                   for name in ("api", "worker"))
    line = "2026-11-30 10:00:03 ERROR cache: eviction storm, 1200 keys dropped"

    def verdict(svc):
        return svc.analysis.analyze([svc.parse_one(line, source="cache", format_name="generic")], "anomaly")[0][1]

    before = verdict(worker)
    other = "normal" if before.label == "abnormal" else "abnormal"
    row = api.analysis.feedback(api.parse_one(line, source="cache", format_name="generic"), "anomaly", other,
                                who="alice")
    assert verdict(worker).label == before.label  # not synced yet
    heard: list[dict] = []
    worker.analysis.on_correction.append(lambda correction: heard.append(correction) or None)
    synced = worker.analysis.sync_feedback()
    assert [r["id"] for r in synced] == [r["id"] for r in heard] == [row["id"]]
    after = verdict(worker)
    assert after.label == other and after.path == "feedback"
    version = worker.analysis.learner.version["anomaly"]
    assert worker.analysis.sync_feedback() == [] and worker.analysis.learner.version["anomaly"] == version

    api.analysis.undo_feedback(row["id"], "bob")
    assert worker.analysis.sync_feedback() == []  # nothing new to hear of, but the undo is applied
    assert verdict(worker).label == before.label and verdict(worker).path == "slm"
    api.close()
    worker.close()


def test_corrections_of_the_llms_verdicts_move_its_accuracy_estimate_in_every_process(tmp_path):
    """The daemon's LLM answered a line and the console (another process) corrects that stored verdict: the
    correction records the verdict's path, so the daemon's estimate of the LLM's accuracy drops at its next
    sync (not only the correcting process's, as when the outcome was counted from its own cache), stays down
    after a restart, and comes back with an undo."""
    shared = f"sqlite:///{tmp_path / 'shared.db'}"

    def start(name: str):
        return build_service(_settings(tmp_path / name).model_copy(update={"store": StoreConfig(url=shared)}))

    api, worker = start("api"), start("worker")
    event = worker.parse_one("2026-11-30 10:00:03 ERROR cache: eviction storm, 1200 keys dropped", source="cache",
                             format_name="generic")
    decided = worker.analysis.decide([event], "anomaly")
    [row] = decided.rows
    row["provenance"]["path"] = "llm"  # as the daemon's LLM reviewer leaves a verdict it answered
    [analysis_id] = worker.store.add_analyses([{**row, "event_id": None}])
    base = worker.analysis.router.llm_accuracy["anomaly"]
    wrong = "normal" if row["label"] == "abnormal" else "abnormal"
    correction = api.analysis.feedback_on_analysis(analysis_id, wrong, who="alice")
    assert correction is not None and (correction["old_label"], correction["verdict_path"]) == (row["label"], "llm")
    worker.analysis.sync_feedback()
    lowered = worker.analysis.router.llm_accuracy["anomaly"]
    assert lowered < base
    worker.close()
    assert start("worker").analysis.router.llm_accuracy["anomaly"] == lowered  # kept in the store
    api.analysis.undo_feedback(correction["id"], "bob")
    assert api.analysis.router.llm_accuracy["anomaly"] == base
    api.close()


def test_corrections_re_fit_the_head_so_similar_lines_move(tmp_path):
    service = build_service(_settings(tmp_path))
    analysis, model = service.analysis, service.analysis.router.models["anomaly"]
    texts = [f"{LEVEL_SEP}quota warning: tenant {name} at 91% of its storage" for name in ("a", "b", "c")]
    base = model.predict_proba(texts)[:, 0]
    for text in texts[:2]:
        analysis.learner.correct("anomaly", text, "abnormal", source="t", log_text=text, template_id=None)
    moved = model.predict_proba(texts)[:, 0]
    assert moved[2] > base[2]  # the third was never corrected: the head moved it
    assert len(model.remembered_[1]) == 2  # the corrections' near-duplicates follow them (`remember`)
    service.close()


def test_a_corrupt_or_mismatched_artifact_is_a_clear_error(tmp_path):
    copy = tmp_path / "router"
    shutil.copytree(DEFAULT_ROUTER, copy)
    weights = copy / "anomaly" / "head.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"sha256|hash|checksum"):
        build_router(_settings(tmp_path, model_dir=copy))
    shutil.rmtree(copy)
    shutil.copytree(DEFAULT_ROUTER, copy)
    manifest = json.loads((copy / "anomaly" / "head.json").read_text())
    manifest["levels"] = ["", "INFO"]
    (copy / "anomaly" / "head.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="level features"):
        build_router(_settings(tmp_path, model_dir=copy))


def test_llm_down_or_over_budget_leaves_the_small_models_verdict_marked(tmp_path):
    from logai.llm.openai_compat import OpenAICompatBackend
    from logai.route.budget import LlmBudget

    dead = OpenAICompatBackend("http://127.0.0.1:9", model="x", timeout_s=1, max_retries=0)
    router = load_router(DEFAULT_ROUTER, dead)
    router.thresholds["anomaly"], router.llm_accuracy["anomaly"] = -1.0, 1.0
    verdict = router.analyze([_event("raid battery degraded", "WARNING")], "anomaly")[0]
    assert verdict.path == "slm_fallback" and verdict.llm_error and verdict.label == verdict.slm_label
    router.budget, router.cache = LlmBudget(per_day=0), type(router.cache)()
    verdict = router.analyze([_event("raid battery degraded", "WARNING")], "anomaly")[0]
    assert verdict.path == "slm_fallback" and "budget" in verdict.llm_error


def test_router_train_on_your_own_labels_for_any_task(tmp_path):
    from click.testing import CliRunner

    from logai.cli.main import cli

    tables = ("users", "orders", "items", "carts", "prices")
    rows = [{"log": f"2026-11-30 10:00:{i % 60:02d} INFO db: query {100000 + i} on table={tables[i % 5]} took "
                    f"{i % 90} ms", "label": "fast"} for i in range(40)]
    rows += [{"log": f"2026-11-30 10:01:{i % 60:02d} WARN db: slow query {100000 + i} on table={tables[i % 5]} "
                     f"took {2000 + i} ms, lock wait", "label": "slow"} for i in range(40)]
    data = tmp_path / "labelled.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    runner = CliRunner()
    out = tmp_path / "router"
    result = runner.invoke(cli, ["router", "train", "--data", str(data), "--task", "latency", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["distinct_inputs"] < len(rows) and report["dev_accuracy"] == 1.0  # values folded, then merged
    (tmp_path / "new.log").write_text("2026-11-30 11:00:00 WARN db: slow query 77 on table=payments took 4100 ms, "
                                      "lock wait\n")
    result = runner.invoke(cli, ["analyze", "--no-llm", "--router", str(out), "--task", "latency", "--input",
                                 str(tmp_path / "new.log")])
    assert result.exit_code == 0 and json.loads(result.stdout)["label"] == "slow", result.output
    data.write_text('{"log": "x"}\n')
    result = runner.invoke(cli, ["router", "train", "--data", str(data), "--out", str(tmp_path / "bad")])
    assert result.exit_code != 0 and "labelled.jsonl:1" in result.output and "label" in result.output


def test_a_huge_line_makes_a_bounded_prompt():
    """A 100 KB line once overflowed the LLM's context (a 500) and kept the reviewer busy for seconds."""
    from logai.route.cases import Case
    from logai.route.prompt import build_messages
    from logai.route.tasks import task

    huge = "\x01x" * 50_000
    case = Case(log=huge, template=huge, label="normal", reason="r")
    messages = build_messages(task("anomaly"), ["normal", "abnormal"], _event(huge, "ERROR"), [case] * 5)
    assert sum(len(m["content"]) for m in messages) < 10_000


def test_a_near_duplicate_of_a_training_input_answers_with_its_label_at_its_level(router):
    """Labels the MLP does not learn (alternating on near-identical texts, learning rate 0) still come back
    for the training inputs themselves, sure, once `neighbour_sim` is set; at another level they do not."""
    from logai.slm.head import HeadClassifier

    embedder = router.models["anomaly"].encoder()
    texts = [f"{LEVEL_SEP}worker {name} finished its shift" for name in ("ada", "bob", "cy", "dee", "eve", "fay")]
    labels = ["abnormal", "normal"] * 3
    plain = HeadClassifier(epochs=1, lr=0.0, seed=0, embedder=embedder).fit(texts, labels)
    assert plain.predict(texts) != labels
    model = HeadClassifier(epochs=1, lr=0.0, seed=0, neighbour_sim=0.999, embedder=embedder).fit(texts, labels)
    assert model.predict(texts) == labels
    mc = model.predict_mc(texts)
    assert mc.labels == labels and (mc.probs.max(1) == 1.0).all() and (mc.uncertainty() == 0).all()
    assert model.predict([f"ERROR{text}" for text in texts]) == plain.predict([f"ERROR{text}" for text in texts])
    flipped = ["normal" if label == "abnormal" else "abnormal" for label in labels]
    assert model.remember(texts[:2], flipped[:2]).predict(texts) == flipped[:2] + labels[2:]  # corrections win
    assert model.remember([], []).predict(texts) == labels


def test_reviews_wait_for_a_backlog_and_a_pending_input_is_not_judged_again(tmp_path, pg_url):
    """The daemon holds the LLM's reviews while it is behind its topic (the LLM's generation would take the
    interpreter from ingestion), and lets them go once it has caught up; meanwhile a pending input is cached
    as the small model's answer (no forward passes per event), and the review replaces it. Verdicts are
    stored in PostgreSQL with ids in order."""
    import threading
    import time

    from logai.route.analysis import AnalysisService
    from logai.store.store import EventStore

    class _SlowLlm(_RandomLlm):
        def __init__(self) -> None:
            super().__init__()
            self.started = threading.Event()

        def generate(self, requests):
            self.started.set()
            return super().generate(requests)

    llm = _SlowLlm()
    router = load_router(DEFAULT_ROUTER, llm)
    router.thresholds["anomaly"], router.llm_accuracy["anomaly"] = -1.0, 1.0  # every verdict goes to the LLM
    router.slm_accuracy["anomaly"] = 0.0  # (the service resets llm_accuracy to the shipped 0.78 measurement)
    store = EventStore(pg_url)
    service = AnalysisService(router, store)
    service.start_reviews()
    try:
        service.hold_reviews(True)
        first = service.analyze([_event("raid battery degraded", "WARNING")], "anomaly", defer_llm=True)
        assert first[0][1].llm_pending and not llm.started.wait(1.0)  # held: the LLM has not been asked
        forwards = router.cache.misses
        again = service.analyze([_event("raid battery degraded", "WARNING")] * 3, "anomaly", defer_llm=True)
        assert router.cache.misses == forwards and all(v.cached and not v.llm_pending for _, v in again)
        ids = [analysis_id for analysis_id, _ in first + again]
        assert ids == sorted(ids) and len(set(ids)) == 4
        assert store.analysis(ids[1])["provenance"]["cached"] is True
        service.hold_reviews(False)
        assert llm.started.wait(30)
        deadline = time.monotonic() + 30
        while store.analysis(ids[0])["model"] == first[0][1].model and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.analysis(ids[0])["provenance"]["path"] == "llm"  # the review replaced the stored verdict
        assert router.analyze([_event("raid battery degraded", "WARNING")], "anomaly")[0].path == "llm"
    finally:
        service.stop_reviews()
        store.close()
