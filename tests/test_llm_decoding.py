"""Speculative decoding is lossless: greedy outputs equal plain greedy token for token, sampling follows the
target distribution, the KV cache holds exactly the committed path, and grammars hold under speculation."""

from __future__ import annotations

import json
import random

import pytest
import torch
from transformers import DynamicCache

from logai.llm.decoding import _choose, _keep_path, _verify, cache_argument, sampling_warpers
from logai.llm.speculative.draft import DraftTree
from logai.llm.speculative.suffix_tree import SuffixProposer, SuffixTrie
from logai.llm.speculative.token_recycling import RecyclingProposer
from logai.llm.types import Constraint, GenerationRequest, SamplingParams


def _prompts(n: int = 12) -> list[str]:
    rng = random.Random(7)
    words = ["block", "blk_3421", "received", "from", "10.0.0.1", "INFO", "error", "served", "user", "42"]
    prompts = []
    for i in range(n):
        line = " ".join(rng.choice(words) for _ in range(6))
        repeats = "\n".join([line] * (1 + i % 4))  # some prompts repeat themselves, some do not
        prompts.append(f"Copy these log lines:\n{repeats}")
    return prompts


class NoisyProposer:
    """Wraps a proposer and corrupts the tail of its drafts: verification must still be lossless."""

    def __init__(self, inner, seed: int = 0):
        self.inner, self.rng, self.name = inner, random.Random(seed), inner.name

    def propose(self, context):
        draft = self.inner.propose(context)
        if draft.tokens and self.rng.random() < 0.5:
            draft.tokens[-1] = self.rng.randrange(1000, 2000)
        return draft

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.parametrize("speculation", ["suffix", "recycling", "noisy-suffix"])
def test_speculative_greedy_equals_plain_greedy(tiny_backend, speculation):
    plain, fast = tiny_backend("none"), tiny_backend(speculation.removeprefix("noisy-"))
    if speculation.startswith("noisy"):
        fast.proposer = NoisyProposer(fast.proposer)
    drafted = accepted = 0
    for prompt in _prompts():
        request = GenerationRequest(messages=[{"role": "user", "content": prompt}],
                                    sampling=SamplingParams(max_tokens=48))
        expected = plain.generate([request])[0]
        got = fast.generate([request])[0]
        assert got.token_ids == expected.token_ids, prompt
        assert got.text == expected.text
        drafted += got.drafted_tokens
        accepted += got.accepted_tokens
    assert accepted > 0, "no draft was ever accepted: the test would not exercise verification"
    if speculation != "suffix":  # the tiny model loops, so clean suffix drafts are all accepted
        assert drafted > accepted, "no draft was ever rejected: partial acceptance is not exercised"


def test_plain_loop_matches_transformers_generate(tiny_backend):
    backend = tiny_backend("none")
    request = GenerationRequest(messages=[{"role": "user", "content": _prompts()[3]}],
                                sampling=SamplingParams(max_tokens=32))
    ours = backend.generate([request])[0]
    ids = torch.tensor([backend.prompt_ids(request)])
    reference = backend.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=32,
                                       eos_token_id=sorted(backend.eos_ids), pad_token_id=0)
    tokens = [t for t in reference[0, ids.shape[1]:].tolist()]
    assert ours.token_ids == tokens[: len(ours.token_ids)]


def test_tree_verification_keeps_a_consistent_kv_cache(tiny_model):
    """After a tree pass and a partial acceptance, the cache equals a fresh pass over the committed tokens."""
    model, _ = tiny_model
    prompt = list(range(100, 120))
    draft = DraftTree(tokens=[5, 6, 7, 8, 9], parents=[-1, -1, 0, 0, 2])  # two branches under the root
    with torch.inference_mode():
        cache = DynamicCache(config=model.config)
        kv = cache_argument(model)
        model(input_ids=torch.tensor([prompt]), **{kv: cache})
        past = cache.get_seq_length()
        root = 42
        inputs = [root, *draft.tokens]
        positions = torch.tensor([[past + d for d in [0, *draft.depths()]]])
        tree_logits = model(input_ids=torch.tensor([inputs]), **{kv: cache}, position_ids=positions,
                            attention_mask=draft.attention_mask(past, model.dtype, torch.device("cpu"))).logits[0]
        path = [0, 2, 4]  # tokens 5, 7, 9: root -> node 0 -> node 2 -> node 4
        _keep_path(cache, past, path, chain=False)
        committed = [*prompt, root, 5, 7, 9]
        fresh = DynamicCache(config=model.config)
        fresh_logits = model(input_ids=torch.tensor([committed]), **{kv: fresh}).logits[0]
    for kept, ref in zip(cache.layers, fresh.layers, strict=True):
        assert torch.allclose(kept.keys, ref.keys, atol=1e-5)
        assert torch.allclose(kept.values, ref.values, atol=1e-5)
    # each tree row predicts what the sequential pass predicts at the same committed position
    for row, position in [(0, len(prompt)), (1, len(prompt) + 1), (3, len(prompt) + 2), (5, len(prompt) + 3)]:
        assert torch.allclose(tree_logits[row], fresh_logits[position], atol=1e-4)


def test_sampling_verification_follows_the_target_distribution():
    """Recursive rejection sampling over a draft tree: the first committed token is distributed as the target."""
    target = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = torch.log(target).repeat(3, 1)
    draft = DraftTree(tokens=[3, 1], parents=[-1, -1])  # two guesses for the first token, an unlikely one first
    sampling = SamplingParams(temperature=1.0)
    generator = torch.Generator().manual_seed(0)
    counts = torch.zeros(4)
    trials = 20_000
    for _ in range(trials):
        path, token, _, _ = _verify(draft, logits, sampling, generator)
        first = draft.tokens[path[0]] if path else token
        counts[first] += 1
    assert torch.allclose(counts / trials, target, atol=0.015), counts / trials


def test_plain_and_speculative_sampling_follow_transformers_warpers():
    """Temperature, top-k and top-p come from transformers' warpers: the plain path (`_choose`) and the
    speculative one (`_verify` over a draft) both sample the distribution `generate` would."""
    logits = torch.tensor([2.0, 1.5, 1.0, 0.2, -1.0, -3.0])
    sampling = SamplingParams(temperature=0.7, top_k=4, top_p=0.9)
    target = torch.softmax(sampling_warpers(sampling)(torch.LongTensor(1, 0), logits[None])[0], dim=-1)
    assert int((target > 0).sum()) < 4  # top-p cut inside the top-k: both warpers are in play
    draft = DraftTree(tokens=[2, 0], parents=[-1, -1])
    generator = torch.Generator().manual_seed(1)
    plain, speculative = torch.zeros(6), torch.zeros(6)
    trials = 20_000
    for _ in range(trials):
        plain[_choose(logits.clone(), sampling, generator, exclude=())[0]] += 1
        path, token, _, _ = _verify(draft, logits.repeat(3, 1), sampling, generator)
        speculative[draft.tokens[path[0]] if path else token] += 1
    assert torch.allclose(plain / trials, target, atol=0.015), plain / trials
    assert torch.allclose(speculative / trials, target, atol=0.015), speculative / trials


def test_greedy_verification_accepts_the_argmax_prefix():
    logits = torch.full((4, 10), -5.0)
    logits[0, 3] = logits[1, 4] = logits[2, 9] = logits[3, 1] = 5.0  # argmax per row: 3, 4, 9, 1
    path, token, _, _ = _verify(DraftTree.chain([3, 4, 5]), logits, SamplingParams(), None)
    assert path == [0, 1] and token == 9  # 3 and 4 accepted; 5 rejected, the target's 9 committed


def test_grammar_holds_under_speculation(tiny_backend):
    schema = {"type": "object", "properties": {"label": {"enum": ["normal", "abnormal"]},
                                               "reason": {"type": "string", "maxLength": 12}},
              "required": ["label", "reason"], "additionalProperties": False}
    plain, fast = tiny_backend("none"), tiny_backend("suffix")
    for prompt in _prompts(6):
        request = GenerationRequest(messages=[{"role": "user", "content": prompt}],
                                    constraint=Constraint.json_schema(schema), sampling=SamplingParams(max_tokens=80))
        expected, got = plain.generate([request])[0], fast.generate([request])[0]
        assert got.token_ids == expected.token_ids
        value = json.loads(got.text)
        assert value["label"] in {"normal", "abnormal"} and len(value["reason"]) <= 12
        assert got.finish_reason == "stop"


def test_choice_and_regex_constraints(tiny_backend):
    backend = tiny_backend("suffix")
    messages = [{"role": "user", "content": "Is this normal?"}]
    assert backend.chat(messages, constraint=Constraint.choice(["normal", "abnormal"]), max_tokens=8).text in {
        "normal", "abnormal"}
    text = backend.chat(messages, constraint=Constraint.regex(r"blk_[0-9]{3}"), max_tokens=12).text
    assert text.startswith("blk_") and len(text) == 7 and text[4:].isdigit()


def test_batched_requests_with_grammars_per_row(tiny_backend):
    backend = tiny_backend("none")
    choice = Constraint.choice(["yes", "no"])
    requests = [GenerationRequest(messages=[{"role": "user", "content": p}], constraint=c,
                                  sampling=SamplingParams(max_tokens=6))
                for p, c in zip(_prompts(4), [choice, None, choice, None], strict=True)]
    results = backend.generate(requests)
    assert results[0].text in {"yes", "no"} and results[2].text in {"yes", "no"}
    singles = [backend.generate([r])[0] for r in requests]
    assert [r.text for r in results] == [s.text for s in singles]


def test_suffix_trie_finds_the_latest_continuation():
    trie = SuffixTrie(depth=8)
    trie.extend([1, 2, 3, 4, 1, 2, 3, 5, 1, 2])
    node, matched = trie.match([9, 1, 2], max_length=4)
    assert matched == 2
    assert trie.continuation(node, 4, 0.0, recent=True)[0][0] == 3
    proposer = SuffixProposer(max_spec=4)
    proposer.start([7, 8, 9, 10, 11, 7, 8])
    assert proposer.propose([7, 8, 9, 10, 11, 7, 8]).tokens[:3] == [9, 10, 11]


def test_recycling_proposer_builds_a_tree_from_recorded_candidates():
    proposer = RecyclingProposer(vocab_size=50, top_k=4, branching=(2, 1), max_nodes=8)
    logits = torch.zeros(2, 50)
    logits[0, [10, 11]] = torch.tensor([5.0, 4.0])
    logits[1, [12, 13]] = torch.tensor([5.0, 4.0])
    proposer.observe([3, 10], logits)
    tree = proposer.propose([1, 3])
    assert tree.tokens[:2] == [10, 11] and tree.parents[:2] == [-1, -1]
    assert tree.tokens[2] == 12 and tree.parents[2] == 0  # 10 was followed by 12 last time


@pytest.mark.parametrize("speculation", ["none", "suffix"])
def test_a_cancelled_backend_stops_mid_generation_and_refuses_more(tiny_backend, speculation):
    """Shutdown cancels the LLM first: a generation in hand ends at its next forward pass with LLMError (one
    request or a batch), so no thread is left inside the model when the process exits."""
    import threading
    import time

    from logai.llm.types import LLMError

    backend = tiny_backend(speculation)
    # a tiny random model never says EOS on its own: 4,000 tokens would take far longer than the cancel
    requests = [GenerationRequest(messages=[{"role": "user", "content": p}],
                                  sampling=SamplingParams(max_tokens=4000)) for p in _prompts(2)]
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            backend.generate(requests if speculation == "none" else requests[:1])
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()  # still generating
    backend.cancel()
    thread.join(30)
    assert not thread.is_alive() and isinstance(outcome[0], LLMError), outcome
    with pytest.raises(LLMError, match="closing"):
        backend.generate(requests[:1])
