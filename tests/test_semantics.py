from pathlib import Path

import pytest

from logai.config import ParsingConfig, SemanticsConfig, Settings
from logai.pipeline import Pipeline
from logai.semantics.annotator import DEFAULT_MODEL, SemanticAnnotator
from logai.semantics.kb import KnowledgeBase
from logai.semantics.model import PairModel
from logai.semantics.tokenize import words
from logai.semantics.types import value_type


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("10.251.73.220", "ip"), ("/10.0.0.1:50010", "ip:port"), ("https://a.example.com/x", "url"),
        ("8c1f3b2e-4d5a-4b6c-9d7e-0f1a2b3c4d5e", "uuid"), ("0x7ffd5e8c", "hex"), ("42", "integer"),
        ("-3.25", "float"), ("/var/log/app.log", "path"), ("java.net.SocketTimeoutException", "exception"),
        ("2024-01-15T10:23:45Z", "timestamp"), ("350ms", "duration"), ("1.2 KB", "size"),
        ("mesos-slave-07.example.org", "host"), ("true", "boolean"), ("blk_-6952295868487656571", "id"),
        ("alice", "word"), ("", "empty"),
    ],
)
def test_type_recognizers(value, kind):
    assert value_type(value) == kind


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("src: /10.0.0.1:5000 dest:", ["src", ":", "/10.0.0.1:5000", "dest", ":"]),
        ("(uid=0) tag=\"View Lock\"", ["(", "uid", "=", "0", ")", "tag", "=", "''", "View", "Lock", "''"]),
        ("headroom=<memory:0, vCores:-27>", ["headroom", "=", "<", "memory", ":", "0", ",", "vCores", ":",
                                             "-27", ">"]),
        ("at node-7.example.com:7109 via hdfs://nn:9000 end.", ["at", "node-7.example.com:7109", "via",
                                                                "hdfs://nn:9000", "end", "."]),
        ("Cannot open 10.0.0.1,10.0.0.2", ["Can", "not", "open", "10.0.0.1,10.0.0.2"]),
    ],
)
def test_tokenizer_follows_the_annotation_convention(message, expected):
    assert words(message) == expected


@pytest.fixture(scope="module")
def model() -> PairModel:
    return PairModel.load(DEFAULT_MODEL)


@pytest.mark.parametrize(
    ("message", "pairs"),
    [
        ("Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010",
         {("block", "blk_-1608999687919862906"), ("src", "/10.250.19.102:54106"),
          ("dest", "/10.250.19.102:50010")}),
        ("authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=61.53.154.93 user=root",
         {("uid", "0"), ("euid", "0"), ("tty", "NODEVssh"), ("rhost", "61.53.154.93"), ("user", "root")}),
        ('10.11.10.1 "GET /v2/servers/detail HTTP/1.1" status: 200 len: 1893 time: 0.2477829',
         {("status", "200"), ("len", "1893"), ("time", "0.2477829")}),
        ("Starting task 2.0 in stage 1.0 (TID 9, localhost, partition 2,PROCESS_LOCAL, 2136 bytes)",
         {("task", "2.0"), ("stage", "1.0"), ("TID", "9"), ("partition", "2")}),
        ("Executing with tokens:", set()),
    ],
)
def test_pairs_on_real_looking_lines(model, message, pairs):
    tokens = words(message)
    predicted = {(tokens[c], tokens[i]) for c, i in model.predict(tokens)}
    assert pairs <= predicted
    assert len(predicted - pairs) <= 1  # at most one extra pair on these lines


def test_the_scoring_by_parts_is_the_models_probability(model):
    """`predict` sums concept, instance and pair weights by parts (cached per token); each candidate's probability
    must be what the model's own features give."""
    from logai.semantics.pairs import candidates, features

    messages = ["Receiving block blk_-1 src: /10.0.0.1:5000 dest: /10.0.0.2:50010",
                "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=61.53.154.93 user=root",
                'GET "/v2/x" status: 200 len: 1893 time: 0.24 is the answer of node-7 (TID 9) [cpu=3]']
    checked = 0
    for message in messages * 2:  # the second round reads the token caches
        tokens = words(message)
        for ci, ii, rel in candidates(tokens):
            expected = model.pair_probability(features(tokens, ci, ii, rel))
            assert model._probability(tokens, ci, ii, rel) == pytest.approx(expected, abs=1e-12)
            checked += 1
    assert checked > 40


def test_refitting_forgets_the_cached_token_weights():
    model = PairModel(threshold=0.5).fit([["size", "42", "ok"], ["done", "now"]] * 5, [{(0, 1)}, set()] * 5)
    assert model.predict(["size", "99", "ok"]) == [(0, 1)]
    model.fit([["size", "42", "ok"], ["done", "now"]] * 5, [set(), {(0, 1)}] * 5)
    assert model.predict(["size", "99", "ok"]) == []


def test_model_fit_save_load_round_trip(tmp_path: Path):
    messages = [["size", "42", "ok"], ["size", "7", "ok"], ["done", "now"], ["port", "80", "open"]]
    gold = [{(0, 1)}, {(0, 1)}, set(), {(0, 1)}]
    fitted = PairModel(threshold=0.5).fit(messages * 5, gold * 5)
    assert fitted.predict(["size", "99", "ok"]) == [(0, 1)]
    path = tmp_path / "m.json"
    fitted.save(path, {"note": "test"})
    loaded = PairModel.load(path)
    assert loaded.predict(["size", "99", "ok"]) == [(0, 1)]
    assert loaded.weights_ == fitted.weights_


def test_unfitted_model_is_a_clear_error():
    with pytest.raises(RuntimeError, match="not fitted"):
        PairModel().predict(["size", "1"])


def test_kb_is_bounded_and_forgets_oldest():
    kb = KnowledgeBase(max_instances=100)
    for i in range(1000):
        kb.observe("block", f"blk_{i}", i + 1)
    assert len(kb) <= 100 and kb.concept_of("blk_999") == "block" and kb.concept_of("blk_0") is None
    assert kb.taught_by("blk_999") == 1000 and kb.taught_by("blk_0") is None


HDFS = [
    "081109 203518 143 INFO dfs.DataNode$DataXceiver: Receiving block blk_77 src: /10.0.0.1:5000 dest: "
    "/10.0.0.2:50010",
    "081109 203521 19 INFO dfs.DataBlockScanner: Verification succeeded for blk_77",
]


def test_events_carry_types_concepts_and_conceptualized_template():
    pipeline = Pipeline()
    event = pipeline.parse_text(HDFS[0], source="hdfs", format_name="HDFS", line=1)
    assert event.conceptualized == "Receiving block <*block*> src: <*src*> dest: <*dest*>"
    assert [(p.value, p.type, p.concept) for p in event.params][:2] == [("blk_77", "id", "block"),
                                                                        ("/10.0.0.1", "ip", "src")]


def test_knowledge_base_gives_a_concept_to_a_bare_instance():
    pipeline = Pipeline()
    pipeline.parse_text(HDFS[0], source="hdfs", format_name="HDFS", line=1)
    bare = pipeline.parse_text(HDFS[1], source="hdfs", format_name="HDFS", line=2)
    block = next(p for p in bare.params if p.value == "blk_77")
    assert block.concept == "block"  # stated as `block blk_77` one line earlier, bare here
    assert (block.origin, block.taught_by) == ("kb", 1)  # and the output says so, and which line taught it
    first = pipeline.parse_text(HDFS[0].replace("blk_77", "blk_78"), source="hdfs", format_name="HDFS", line=3)
    assert first.pairs is not None and ("block", "blk_78") in first.pairs  # what the line itself states
    assert next(p for p in first.params if p.value == "blk_78").origin == "stated"


def test_knowledge_base_survives_a_restart(tmp_path: Path):
    settings = Settings(parsing=ParsingConfig(state_file=tmp_path / "state.json"))
    first = Pipeline(settings)
    first.parse_text(HDFS[0], source="hdfs", format_name="HDFS", line=1)
    first.close()
    second = Pipeline(settings)
    bare = second.parse_text(HDFS[1], source="hdfs", format_name="HDFS", line=2)
    block = next(p for p in bare.params if p.value == "blk_77")
    assert (block.concept, block.origin, block.taught_by) == ("block", "kb", 1)


def test_semantics_can_be_switched_off():
    pipeline = Pipeline(Settings(semantics=SemanticsConfig(enabled=False)))
    event = pipeline.parse_text(HDFS[0], source="hdfs", format_name="HDFS", line=1)
    assert event.conceptualized is None and all(p.concept is None for p in event.params)


def test_annotator_runs_the_model_once_per_template(monkeypatch):
    annotator = SemanticAnnotator()
    calls = []
    original = annotator.model.predict
    monkeypatch.setattr(annotator.model, "predict", lambda tokens: calls.append(1) or original(tokens))
    pipeline = Pipeline()
    assert pipeline.semantics is not None
    pipeline.semantics.annotators["hdfs"] = annotator
    for i in range(50):
        pipeline.parse_text(HDFS[0].replace("blk_77", f"blk_{i}"), source="hdfs", format_name="HDFS", line=i)
    assert len(calls) <= 2  # the first line, and at most once more if the template generalised


def test_kb_follows_reassignment():
    kb = KnowledgeBase()
    kb.observe("src", "10.0.0.1:5000", 1)
    kb.observe("dest", "10.0.0.2:50010", 2)
    kb.observe("dest", "10.0.0.1:5000", 3)  # the same address stated later as a destination
    assert kb.concept_of("10.0.0.1:5000") == "dest" and kb.taught_by("10.0.0.1:5000") == 3
    assert kb.concept_of("10.0.0.2:50010") == "dest"


def test_numbers_do_not_enter_the_knowledge_base():
    pipeline = Pipeline()
    line = "081109 203521 145 INFO dfs.DataNode$PacketResponder: Received block blk_88 of size {} from /10.0.0.1"
    for size in ("67108864", "3554"):
        event = pipeline.parse_text(line.format(size), source="hdfs", format_name="HDFS", line=1)
    assert ("3554", "size") in [(p.value, p.concept) for p in event.params]  # stated: still a concept
    assert pipeline.semantics is not None
    kb = pipeline.semantics.annotator("hdfs").kb
    assert kb.concept_of("blk_88") == "block"
    assert kb.concept_of("3554") is None and kb.concept_of("67108864") is None  # but not remembered


def test_the_configured_kb_size_bounds_each_source():
    """`semantics.kb_max_instances` reaches the annotator of every source (an empty knowledge base is falsy:
    it was once replaced by a default-sized one)."""
    pipeline = Pipeline(Settings(semantics=SemanticsConfig(kb_max_instances=100)))
    for i in range(300):
        pipeline.parse_text(HDFS[0].replace("blk_77", f"blk_{i}"), source="hdfs", format_name="HDFS", line=i + 1)
    assert pipeline.semantics is not None
    kb = pipeline.semantics.annotator("hdfs").kb
    assert len(kb) <= 100 and kb.concept_of("blk_299") == "block"
