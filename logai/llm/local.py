"""`LocalBackend`: the LLM in-process with transformers.

The model is the packaged SmolLM2-135M-Instruct by default (dequantized once from GGUF and cached), or any
local HF model directory or GGUF file. bf16 where the hardware has it (CUDA, or CPUs with AVX512-BF16/AMX),
float32 otherwise. Requests are decoded one at a time by `logai.llm.decoding` (which adds speculation and
grammar constraints); without speculation, a batch of requests is decoded together by `model.generate`
with the grammar as a `LogitsProcessor`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from logai.devices import loading_weights, pick_device, pick_dtype
from logai.llm.backend import Backend
from logai.llm.decoding import decode
from logai.llm.grammar import GrammarCompilerCache, GrammarLogitsProcessor
from logai.llm.label_scorer import LabelScorer
from logai.llm.model_files import resolve_model
from logai.llm.speculative.draft import Proposer
from logai.llm.speculative.suffix_tree import SuffixProposer
from logai.llm.speculative.token_recycling import RecyclingProposer
from logai.llm.types import GenerationRequest, GenerationResult, LabelScores, LLMError, Timings

log = logging.getLogger(__name__)
Speculation = Literal["none", "suffix", "recycling"]


class Fp32Head(torch.nn.Module):
    """The output projection in float32. bf16 logits carry ~3 significant digits, so the top two tokens
    often tie exactly and argmax then depends on the kernel's summation order — which differs between a
    1-token and an n-token pass. Float32 logits make greedy (and speculative verification) stable for the
    cost of one float32 matrix-vector product per token."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight = torch.nn.Parameter(weight.detach().float().clone(), requires_grad=False)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(hidden.float(), self.weight)


def use_fp32_head(model: Any) -> None:
    """Replace the model's (possibly tied) output embedding by a float32 copy."""
    head = model.get_output_embeddings()
    model.set_output_embeddings(Fp32Head(head.weight))
    model.config.tie_word_embeddings = False


class _Cancelled(StoppingCriteria):
    """Stops `model.generate` of every row once the backend is cancelled."""

    def __init__(self, flag: threading.Event):
        self.flag = flag

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.flag.is_set(), dtype=torch.bool)  # type: ignore[return-value]


class LocalBackend(Backend):
    name = "local"

    def __init__(self, model: str | Path | None = None, *, device: str | None = None, dtype: str | None = None,
                 speculation: Speculation = "suffix", cache_dir: Path | None = None, model_obj: Any = None,
                 tokenizer: Any = None):
        self.device = pick_device(device)
        if model_obj is not None:  # an already built model (tests with tiny random weights)
            self.model, self.tokenizer = model_obj, tokenizer
            self.model_name = getattr(model_obj.config, "name_or_path", "") or "custom"
        else:
            path = resolve_model(model, cache_dir)
            self.model_name = Path(str(model)).name if model else "SmolLM2-135M-Instruct"
            with loading_weights():
                self.tokenizer = AutoTokenizer.from_pretrained(path)
                self.model = AutoModelForCausalLM.from_pretrained(path, dtype=pick_dtype(self.device, dtype))
        self.model.to(self.device).eval()
        if self.model.dtype != torch.float32:
            use_fp32_head(self.model)
        vocab = self.model.get_output_embeddings().weight.shape[0]
        self.eos_ids = self._eos_ids()
        self.grammars = GrammarCompilerCache(self.tokenizer, vocab, sorted(self.eos_ids))
        self.speculation = speculation
        self.proposer: Proposer | None = None
        if speculation == "suffix":
            self.proposer = SuffixProposer()
        elif speculation == "recycling":
            self.proposer = RecyclingProposer(vocab)
        elif speculation != "none":
            raise ValueError(f"unknown speculation {speculation!r}: none, suffix or recycling")
        self.scorer = LabelScorer(self.model, self.tokenizer, self.prompt_ids)
        self._lock = threading.Lock()  # one decode at a time: the model and proposers are not re-entrant
        self._cancelled = threading.Event()  # set by `cancel`: decoding stops at its next forward pass

    def _eos_ids(self) -> set[int]:
        ids = set()
        for source in (self.tokenizer.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)):
            if isinstance(source, int):
                ids.add(source)
            elif source:
                ids.update(source)
        im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>") if "<|im_end|>" in self.tokenizer.get_vocab() \
            else None
        if im_end is not None:
            ids.add(im_end)
        return ids

    # -- prompts --------------------------------------------------------------------------------------------
    def prompt_ids(self, request: GenerationRequest | list[dict[str, str]]) -> list[int]:
        if isinstance(request, list):
            messages = request
        elif request.messages is None:
            return self.tokenizer(request.prompt, add_special_tokens=False)["input_ids"]
        else:
            messages = request.messages
        if self.tokenizer.chat_template is None:
            text = "\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\nassistant:"
            return self.tokenizer(text, add_special_tokens=False)["input_ids"]
        encoded = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if hasattr(encoded, "keys"):  # BatchEncoding in transformers 5
            encoded = encoded["input_ids"]
        return list(encoded)

    # -- generation -----------------------------------------------------------------------------------------
    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        with self._lock:
            if self._cancelled.is_set():
                raise LLMError("the local model is closing")
            if self.proposer is None and len(requests) > 1:
                return self._generate_batched(list(requests))
            return [self._generate_one(request) for request in requests]

    def _stop_check(self, stops: list[str]):
        if not stops:
            return None

        def check(tokens: list[int]) -> int | None:
            text = self.tokenizer.decode(tokens[-64:], skip_special_tokens=True)
            if not any(stop in text for stop in stops):
                return None
            for keep in range(max(0, len(tokens) - 64), len(tokens) + 1):  # shortest prefix holding a stop
                prefix = self.tokenizer.decode(tokens[:keep], skip_special_tokens=True)
                if any(stop in prefix for stop in stops):
                    return keep
            return len(tokens)

        return check

    def _generate_one(self, request: GenerationRequest) -> GenerationResult:
        started = time.perf_counter()
        prompt = self.prompt_ids(request)
        matcher = self.grammars.matcher(request.constraint) if request.constraint is not None else None
        try:
            out = decode(self.model, prompt, request.sampling, self.eos_ids, proposer=self.proposer,
                         matcher=matcher, grammar_cache=self.grammars,
                         stop_check=self._stop_check(request.sampling.stop), cancelled=self._cancelled.is_set)
        except torch.OutOfMemoryError as exc:
            raise LLMError(f"out of memory decoding a {len(prompt)}-token prompt") from exc
        text = self._text(out.token_ids, request.sampling.stop)
        return GenerationResult(
            text=text, token_ids=out.token_ids, logprobs=out.logprobs, finish_reason=out.finish_reason,
            prompt_tokens=len(prompt), forward_passes=out.forward_passes, drafted_tokens=out.drafted,
            accepted_tokens=out.accepted, top_logprobs=out.top_logprobs,
            timings=Timings(prompt_s=out.prompt_s, decode_s=out.decode_s, total_s=time.perf_counter() - started))

    def _text(self, tokens: list[int], stops: list[str]) -> str:
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        for stop in stops:
            if stop in text:
                text = text[: text.index(stop)]
        return text

    def _generate_batched(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """Plain decoding of several requests at once (left padding, one `model.generate` call per group of
        equal sampling settings)."""
        results: list[GenerationResult | None] = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        for i, request in enumerate(requests):
            s = request.sampling
            groups.setdefault((s.max_tokens, s.temperature, s.top_p, s.top_k, s.seed), []).append(i)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else min(self.eos_ids)
        for indices in groups.values():
            started = time.perf_counter()
            prompts = [self.prompt_ids(requests[i]) for i in indices]
            width = max(map(len, prompts))
            ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
            matchers = [self.grammars.matcher(constraint) if (constraint := requests[i].constraint) is not None
                        else None for i in indices]
            processors = LogitsProcessorList()
            if any(m is not None for m in matchers):
                processors.append(GrammarLogitsProcessor(matchers, self.grammars))
            s = requests[indices[0]].sampling
            if s.seed is not None:
                torch.manual_seed(s.seed)
            sampling_args: dict[str, Any] = {"do_sample": False} if s.greedy else {
                "do_sample": True, "temperature": s.temperature, "top_p": s.top_p, "top_k": s.top_k or None}
            with torch.inference_mode():
                generated = self.model.generate(
                    input_ids=ids, attention_mask=mask, max_new_tokens=s.max_tokens, logits_processor=processors,
                    pad_token_id=pad, eos_token_id=sorted(self.eos_ids), output_scores=True,
                    return_dict_in_generate=True, stopping_criteria=StoppingCriteriaList([_Cancelled(self._cancelled)]),
                    **sampling_args)
            if self._cancelled.is_set():
                raise LLMError("generation cancelled: the model is being closed")
            scores = torch.stack(generated.scores, dim=1).float().log_softmax(-1)  # rows x steps x vocab
            elapsed = time.perf_counter() - started
            for row, i in enumerate(indices):
                tokens: list[int] = []
                logprobs: list[float] = []
                finish: Literal["stop", "length"] = "length"
                for step, token in enumerate(generated.sequences[row, width:].tolist()):
                    if token in self.eos_ids:
                        finish = "stop"
                        break
                    tokens.append(token)
                    logprobs.append(float(scores[row, step, token]))
                if (matcher := matchers[row]) is not None and matcher.is_terminated():
                    finish = "stop"
                results[i] = GenerationResult(
                    text=self._text(tokens, requests[i].sampling.stop), token_ids=tokens, logprobs=logprobs,
                    finish_reason=finish, prompt_tokens=len(prompts[row]), forward_passes=len(generated.scores),
                    timings=Timings(total_s=elapsed))
        return [r for r in results if r is not None]

    # -- classification -------------------------------------------------------------------------------------
    def score_labels(self, messages: list[dict[str, str]], labels: Sequence[str]) -> LabelScores:
        with self._lock:
            return self.scorer.score(messages, list(labels))

    def cancel(self) -> None:
        self._cancelled.set()

    def close(self) -> None:
        self.model = None
