"""AdaptiveLog routing: the small model's uncertainty, thresholds, the router with the real packaged models,
fallback when the LLM is down, budgets, feedback, persistence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from logai.llm.openai_compat import OpenAICompatBackend
from logai.pipeline import Pipeline
from logai.route.budget import LlmBudget
from logai.route.cases import Case, CaseLibrary
from logai.route.router import AdaptiveRouter
from logai.route.threshold import routed_share, threshold_for_accuracy, threshold_for_budget
from logai.route.training import LabelledLog, load_router, save_router, train_task
from logai.slm.classifier import SlmClassifier
from logai.slm.embeddings import SentenceEmbedder
from logai.slm.inputs import event_text
from logai.slm.uncertainty import summarise

ABNORMAL = ["kernel panic on node {i}: machine check exception", "disk {i} failed: unrecoverable read error",
            "fatal: out of memory, killing process {i}"]
NORMAL = ["user {i} logged in successfully", "heartbeat from worker {i} ok", "job {i} completed in time"]
AMBIGUOUS = "connection to peer reset, retrying"  # labelled both ways in training


def _training() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for i in range(6):
        for pattern in ABNORMAL:
            texts.append(pattern.format(i=i))
            labels.append("abnormal")
        for pattern in NORMAL:
            texts.append(pattern.format(i=i))
            labels.append("normal")
    for label in ("abnormal", "normal") * 6:
        texts.append(AMBIGUOUS)
        labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def classifier() -> SlmClassifier:
    texts, labels = _training()
    return SlmClassifier(epochs=10, batch_size=16, lr=2e-4, seed=0).fit(texts, labels)


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder()


@pytest.fixture
def library(embedder) -> CaseLibrary:
    library = CaseLibrary(embedder)
    library.add([Case(log=AMBIGUOUS, template=AMBIGUOUS, label="abnormal", small_model_label="normal",
                      reason="resets that repeat precede outages")])
    return library


def test_summarise_vote_and_entropy():
    # 3 passes, 2 items, 2 classes: item 0 always class 0; item 1 splits 2:1
    probs = torch.tensor([[[0.9, 0.1], [0.6, 0.4]], [[0.8, 0.2], [0.3, 0.7]], [[0.7, 0.3], [0.7, 0.3]]])
    mc = summarise(probs, ["a", "b"])
    assert mc.labels == ["a", "a"]
    assert mc.vote.tolist() == pytest.approx([1.0, 2 / 3])
    mean = np.array([0.8, 0.2])
    assert mc.entropy[0] == pytest.approx(-(mean * np.log(mean)).sum(), rel=1e-5)
    assert mc.uncertainty("vote").tolist() == pytest.approx([0.0, 1 / 3])
    assert 0 < mc.uncertainty("entropy")[0] < mc.uncertainty("entropy")[1] <= 1


def test_mc_dropout_is_unsure_of_the_ambiguous_input(classifier):
    clear = ["kernel panic on node 42: machine check exception", "user 42 logged in successfully"]
    mc = classifier.predict_mc([*clear, AMBIGUOUS])
    assert mc.labels[:2] == ["abnormal", "normal"]
    u = mc.uncertainty()
    assert u[2] > 0.9 and max(u[0], u[1]) < 0.5, u
    assert mc.probs.shape == (3, 2) and np.allclose(mc.probs.sum(1), 1.0)
    # restricting the choices leaves one label: certain
    only = classifier.predict_mc([AMBIGUOUS], allowed=[["normal"]])
    assert only.labels == ["normal"] and only.uncertainty()[0] == pytest.approx(0.0, abs=1e-6)


def test_the_screen_samples_only_what_one_deterministic_pass_is_unsure_of(classifier):
    clear = ["kernel panic on node 42: machine check exception", "user 42 logged in successfully"]
    texts = [clear[0], AMBIGUOUS, clear[1]]
    # no screen above zero: every item gets the passes, as without a screen
    full = classifier.predict_mc(texts)
    everything = classifier.predict_mc(texts, screen=0.0)
    assert everything.labels == full.labels and np.allclose(everything.probs, full.probs)
    # a screen no entropy reaches: the deterministic answer, unanimous
    plain = classifier.predict_mc(texts, screen=1.1)
    assert plain.labels == classifier.predict(texts) and plain.vote.tolist() == [1.0, 1.0, 1.0]
    assert np.allclose(plain.probs, classifier.predict_proba(texts), atol=1e-5)
    # between: the ambiguous item alone is sampled, and gets what sampling it alone gives
    screened = classifier.predict_mc(texts, screen=0.5)
    alone = classifier.predict_mc([AMBIGUOUS])
    assert np.allclose(screened.probs[1], alone.probs[0]) and screened.vote[1] == alone.vote[0]
    assert screened.vote[0] == screened.vote[2] == 1.0
    assert np.allclose(screened.probs[[0, 2]], plain.probs[[0, 2]])
    # and the order of the texts does not matter (they are batched by length)
    backwards = classifier.predict_mc(texts[::-1], screen=1.1)
    assert np.allclose(backwards.probs[::-1], plain.probs, atol=1e-5)


def test_threshold_calibration():
    u = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    assert threshold_for_budget(u, 0.4) == pytest.approx(0.3)  # routes 0.4 and 0.5
    assert routed_share(u, threshold_for_budget(u, 0.4)) == pytest.approx(0.4)
    assert threshold_for_budget(u, 0.0) == pytest.approx(0.5)
    assert routed_share(u, threshold_for_budget(u, 1.0)) == 1.0
    slm_ok = [True, True, True, False, False]
    # an LLM right 90% of the time should take the two items the small model gets wrong, not more
    assert threshold_for_accuracy(u, slm_ok, 0.9) == pytest.approx(0.3)
    # a useless LLM gets nothing routed; a budget caps the share
    assert threshold_for_accuracy(u, slm_ok, 0.0) == float("inf")
    assert threshold_for_accuracy(u, slm_ok, 0.9, budget=0.2) == pytest.approx(0.4)
    with pytest.raises(ValueError):
        threshold_for_budget(u, 1.5)


def test_budget_per_second_and_per_day():
    now = [1000.0]
    budget = LlmBudget(per_second=2, per_day=3, clock=lambda: now[0])
    assert [budget.try_acquire() for _ in range(3)] == [True, True, False]
    now[0] += 1.0
    assert budget.try_acquire() is True
    now[0] += 1.0
    assert budget.try_acquire() is False  # the day's 3 calls are spent
    now[0] += 86400
    assert budget.try_acquire() is True


def test_the_days_budget_is_the_deployments_across_processes_and_restarts(tmp_path):
    """Two processes on one store (serve and a daemon) spend one daily budget; a restarted one does not get the
    day back; the next day does. /metrics says the deployment's count."""
    from logai.metrics import REGISTRY
    from logai.store.llm_calls import LlmCallCounter
    from logai.store.store import EventStore

    now = [1000.0]
    url = f"sqlite:///{tmp_path / 'logai.db'}"

    def process() -> LlmBudget:
        return LlmBudget(per_day=3, clock=lambda: now[0], use="route").share(LlmCallCounter(EventStore(url)))

    serve, daemon = process(), process()
    assert [serve.try_acquire(), daemon.try_acquire(), daemon.try_acquire(), serve.try_acquire()] == [
        True, True, True, False]
    assert REGISTRY.get_sample_value("logai_llm_budget_used_today", {"use": "route"}) == 3
    assert process().try_acquire() is False  # restarted: the day's 3 calls are still spent
    now[0] += 86400
    assert daemon.try_acquire() is True and serve.try_acquire() is True


def _events(lines: list[str]):
    pipeline = Pipeline()
    return [pipeline.parse_text(line, source="t", format_name="generic", line=i + 1) for i, line in enumerate(lines)]


def _threshold_between(classifier: SlmClassifier) -> float:
    u = classifier.predict_mc(["kernel panic on node 7: machine check exception", AMBIGUOUS]).uncertainty()
    return float((u[0] + u[1]) / 2)


@pytest.fixture(scope="module")
def local_llm():
    from logai.llm.local import LocalBackend

    backend = LocalBackend()  # the packaged SmolLM2-135M-Instruct
    yield backend
    backend.close()


def test_router_sends_only_the_uncertain_event_to_the_llm(classifier, library, local_llm):
    router = AdaptiveRouter({"anomaly": classifier}, {"anomaly": _threshold_between(classifier)}, library,
                            local_llm, k=3, llm_name="smollm2")
    events = _events(["kernel panic on node 7: machine check exception", AMBIGUOUS])
    clear, unsure = router.analyze(events, "anomaly")
    assert clear.path == "slm" and clear.label == "abnormal" and clear.model == "slm:anomaly"
    assert unsure.path == "llm" and unsure.model == "smollm2"
    assert unsure.label in ("normal", "abnormal")
    assert unsure.cases and unsure.cases[0]["label"] == "abnormal" and unsure.cases[0]["similarity"] > 0.9
    assert unsure.llm_tokens > 0 and unsure.uncertainty > clear.uncertainty
    again = router.analyze(_events([AMBIGUOUS]), "anomaly")[0]
    assert again.cached and again.label == unsure.label and router.cache.hits >= 1


def test_llm_down_leaves_the_small_model_verdict_marked(classifier, library):
    dead = OpenAICompatBackend("http://127.0.0.1:9", "m", timeout_s=1.0, max_retries=0)
    router = AdaptiveRouter({"anomaly": classifier}, {"anomaly": _threshold_between(classifier)}, library, dead)
    verdict = router.analyze(_events([AMBIGUOUS]), "anomaly")[0]
    assert verdict.path == "slm_fallback" and verdict.llm_error
    assert verdict.label == verdict.slm_label and verdict.model == "slm:anomaly"
    over = AdaptiveRouter({"anomaly": classifier}, {"anomaly": -1.0}, library, dead,
                          budget=LlmBudget(per_day=0))
    verdict = over.analyze(_events(["disk 3 failed: unrecoverable read error"]), "anomaly")[0]
    assert verdict.path == "slm_fallback" and "budget" in verdict.llm_error


def test_train_save_load_round_trip(tmp_path, embedder):
    texts, labels = _training()
    train = [LabelledLog(t, label) for t, label in zip(texts, labels, strict=True)]
    dev = [LabelledLog(p.format(i=99), "abnormal") for p in ABNORMAL] + \
          [LabelledLog(p.format(i=99), "normal") for p in NORMAL] + [LabelledLog(AMBIGUOUS, "abnormal")]
    trained = train_task("anomaly", train, dev, Pipeline(),
                         classifier=SlmClassifier(epochs=2, batch_size=16, lr=2e-4), budget=0.3, case_share=0.2)
    assert trained.cases and all(c.task == "anomaly" and c.reason for c in trained.cases)
    assert 0.0 <= trained.report["dev_routed_share"] <= 0.3
    library = CaseLibrary(embedder)
    library.add(trained.cases)
    folder = save_router(tmp_path / "router", {"anomaly": trained}, library)
    router = load_router(folder, embedder=embedder)
    assert router.thresholds["anomaly"] == pytest.approx(trained.threshold)
    assert len(router.library) == len(trained.cases)
    texts = [event_text(e) for e in _events([t.log for t in dev])]
    assert router.models["anomaly"].predict(texts) == trained.model.predict(texts)
    with pytest.raises(FileNotFoundError, match="train_slm"):
        load_router(tmp_path / "nothing")


def test_api_analyze_feedback_and_analyses(tmp_path, classifier, library):
    from fastapi.testclient import TestClient

    from logai.api.app import create_app
    from logai.config import RouteConfig, Settings
    from logai.route.training import TaskTraining

    folder = save_router(tmp_path / "router", {"anomaly": TaskTraining(classifier, -1.0, [])}, library)
    settings = Settings(data_dir=tmp_path / "data", route=RouteConfig(model_dir=folder, llm=False))
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/tasks").json() == {"anomaly": ["abnormal", "normal"]}
        client.post("/v1/ingest", params={"source": "analyze"}, content=b"disk 3 failed: unrecoverable read error")
        templates = client.get("/v1/templates", params={"source": "analyze"}).json()["templates"]
        r = client.post("/v1/analyze", json={"lines": ["disk 9 failed: unrecoverable read error", AMBIGUOUS]})
        assert r.status_code == 200, r.text
        verdicts = r.json()["verdicts"]
        assert verdicts[0]["label"] == "abnormal" and verdicts[0]["path"] == "slm"  # no LLM configured
        assert verdicts[0]["template_id"] == templates[0]["template_id"] and 0 <= verdicts[0]["uncertainty"] <= 1
        assert verdicts[1]["template_id"] is None  # an unknown line is judged, not learned
        assert client.get("/v1/templates", params={"source": "analyze"}).json()["templates"] == templates
        stored = client.get("/v1/analyses", params={"task": "anomaly"}).json()["analyses"]
        assert [a["event_id"] for a in stored] == [None, None, 1]  # two asked for; the ingested event got one
        assert stored[0]["provenance"]["log"] == AMBIGUOUS
        assert client.post("/v1/analyze", json={"lines": ["x"], "task": "nope"}).status_code == 422
        assert client.post("/v1/analyze", json={"lines": []}).status_code == 422
        assert client.post("/v1/analyze", json={"lines": ["x"], "format": "nope"}).status_code == 422
        r = client.post("/v1/feedback", json={"line": "raid battery degraded on shelf 2", "label": "abnormal",
                                              "by": "alice"})
        assert r.status_code == 200, r.text
        assert r.json()["new_label"] == "abnormal" and r.json()["who"] == "alice"
        assert len(client.app.state.analysis.router.library) == len(library) + 1  # a case at once
        r = client.post("/v1/feedback", json={"analysis_id": stored[0]["id"], "label": "normal"})
        assert r.status_code == 200 and r.json()["input"] == stored[0]["provenance"]["input"]
        assert client.post("/v1/feedback", json={"line": "x", "label": "purple"}).status_code == 422
        assert client.post("/v1/feedback", json={"label": "normal"}).status_code == 422  # neither line nor id
        assert client.post("/v1/feedback", json={"analysis_id": 999, "label": "normal"}).status_code == 404
        assert client.delete("/v1/feedback/999").status_code == 404
        metrics = client.get("/metrics").text
        assert 'logai_route_verdicts_total{path="slm",task="anomaly"}' in metrics
    # corrections live in the store: a restart re-applies them
    with TestClient(create_app(settings)) as client:
        assert len(client.get("/v1/feedback", params={"active": True}).json()["feedback"]) == 2
        assert len(client.app.state.analysis.router.library) == len(library) + 2
    with TestClient(create_app(Settings(data_dir=tmp_path / "other", route=RouteConfig(llm=False)))) as client:
        r = client.post("/v1/analyze", json={"lines": ["x"]})  # no model_dir: the shipped router answers
        assert r.status_code == 200 and r.json()["verdicts"][0]["label"] in ("normal", "abnormal")


def test_cli_analyze(tmp_path, classifier, library):
    import json

    from click.testing import CliRunner

    from logai.cli.main import cli
    from logai.route.training import TaskTraining

    folder = save_router(tmp_path / "router", {"anomaly": TaskTraining(classifier, 0.5, [])}, library)
    log = tmp_path / "in.log"
    log.write_text("disk 4 failed: unrecoverable read error\nuser 5 logged in successfully\n")
    result = CliRunner().invoke(cli, ["analyze", "--router", str(folder), "--input", str(log), "--no-llm"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line[line.index('{"line"'):]) for line in result.output.splitlines() if '{"line"' in line]
    assert [r["label"] for r in rows] == ["abnormal", "normal"] and rows[0]["path"] == "slm"
    bad = CliRunner().invoke(cli, ["analyze", "--router", str(folder), "--input", str(log), "--task", "x"])
    assert bad.exit_code != 0 and "unknown task" in bad.output


def test_the_encoder_in_bfloat16_keeps_the_float32_vectors(embedder):
    """Real MiniLM weights: where the CPU multiplies bfloat16 natively, `auto` encodes in it, and each vector stays
    within a cosine of 0.999 of the float32 one; a change of precision empties the cache (its vectors were made
    the other way); an unknown precision is refused."""
    texts = ["Receiving block <block> src: <src> dest: <dest>", "kernel panic on node 42: machine check exception",
             AMBIGUOUS]
    try:
        embedder.precision = "fp32"
        exact = embedder.encode(texts)
        embedder.precision = "bf16"
        assert len(embedder._cache) == 0
        fast = embedder.encode(texts)
        assert (exact * fast).sum(1).min() > 0.999
        assert not np.array_equal(exact, fast)  # it did run in bfloat16
        with pytest.raises(ValueError, match="auto, bf16 or fp32"):
            embedder.precision = "int8"
    finally:
        embedder.precision = "auto"
