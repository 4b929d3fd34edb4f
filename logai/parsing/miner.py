"""Streaming template miner for one source: masking, a shape cache, Drain, canonical rendering, lineage.

Per message:
1. mask obvious variables (`Masker`);
2. fast path: a message whose masked shape was seen before maps straight to its template;
3. otherwise Drain (drain3) finds or creates the cluster, and may generalise its template;
4. the cluster's template is rendered canonically and identified by a hash of (source, text), so ids are
   stable across processes; when a template generalises, its old id is recorded as merged into the new.

Parameters are read from the original content by aligning the template's literal pieces (linear time,
`template_match`), so they are the exact substrings the `<*>` stand for.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from drain3.drain import LogCluster, Node

from logai import metrics
from logai.events import WILDCARD
from logai.parsing.canonical import DEFAULT_VARIABLE_WORDS, canonicalize
from logai.parsing.masking import Masker
from logai.parsing.subtoken_drain import SubtokenDrain
from logai.parsing.template_ids import template_id
from logai.parsing.template_index import TemplateIndex
from logai.parsing.template_match import COMPILE_AFTER, SHORT, find_params, token_regex

STATE_VERSION = 1
log = logging.getLogger(__name__)


@dataclass(slots=True)
class Template:
    """A mined template and its running statistics."""

    id: str
    text: str
    count: int = 0
    last_seq: int = 0  # message sequence number of the last hit (for least-recently-used pruning)
    _pieces: list[str] | None = field(default=None, repr=False)
    _token_regex: re.Pattern[str] | None = field(default=None, repr=False)
    _uses: int = field(default=0, repr=False)

    def match_tokens(self, content: str) -> list[str] | None:
        """Parameters if `content` fits with every `<*>` inside one token, else None."""
        if self._pieces is None:
            self._pieces = self.text.split(WILDCARD)
        if len(content) > SHORT:  # long messages: linear matching only (see template_match)
            return find_params(self._pieces, content, within_tokens=True)
        if self._token_regex is not None:
            found = self._token_regex.match(content)
            return list(found.groups()) if found is not None else None
        self._uses += 1
        if self._uses >= COMPILE_AFTER:  # hot: a compiled regex pays for itself from here on
            self._token_regex = token_regex(self.text)
        return find_params(self._pieces, content, within_tokens=True)

    def extract(self, content: str) -> list[str] | None:
        """The substrings of `content` that the wildcards stand for, or None if it does not align."""
        params = self.match_tokens(content)
        if params is None:  # a wildcard that spans tokens (a masked date, a size with its unit)
            params = find_params(self._pieces or self.text.split(WILDCARD), content, within_tokens=False)
        return params


class MinerResult(NamedTuple):
    template: Template
    params: list[str]
    aligned: bool
    truncated: bool


class TemplateMiner:
    """Mines templates from the messages of one source. Not thread-safe; one per source."""

    def __init__(
        self,
        source: str,
        masker: Masker,
        *,
        sim_th: float = 0.6,
        depth: int = 4,
        max_children: int = 100,
        max_templates: int = 50_000,
        max_content_chars: int = 8192,
        cache_size: int = 100_000,
        variable_words: frozenset[str] = DEFAULT_VARIABLE_WORDS,
        max_candidates: int = 256,
    ):
        self.source = source
        self.masker = masker
        self.sim_th = sim_th
        self.depth = depth
        self.max_children = max_children
        self.max_templates = max_templates
        self.max_content_chars = max_content_chars
        self.cache_size = cache_size
        self.variable_words = variable_words
        self.drain = SubtokenDrain(
            depth=depth,
            sim_th=sim_th,
            max_children=max_children,
            max_clusters=max_templates,
            param_str=WILDCARD,
            max_candidates=max_candidates,
        )
        self.templates: dict[str, Template] = {}
        self.merged_into: dict[str, str] = {}  # old template id -> the id it generalised into
        self._new_merges: deque[tuple[str, str]] = deque(maxlen=max_templates)  # not yet taken (`take_merges`)
        self._cluster_tid: dict[int, str] = {}  # drain cluster id -> template id of its current text
        self._shape_cache: dict[str, str] = {}  # masked message -> template id
        # templates matched before masking (the fast path)
        self.index = TemplateIndex(sim_th, masker.is_masked, max_candidates)
        self._seq = 0

    # -- mining --------------------------------------------------------------------------------------
    def add(self, content: str) -> MinerResult:
        """Mine one message (the content part of a line, header already removed)."""
        self._seq += 1
        truncated = len(content) > self.max_content_chars
        if truncated:
            content = content[: self.max_content_chars]
        content = content.strip()

        hit = self.index.match(content)
        if hit is not None:
            known, params = hit
            known.count += 1
            known.last_seq = self._seq
            return MinerResult(known, params, True, truncated)

        masked = self.masker.mask(content)
        tid = self._shape_cache.get(masked)
        template: Template | None = None
        if tid is not None:
            template = self.templates.get(self.merged_into.get(tid, tid))
            if template is None:
                template = self.templates.get(self.resolve(tid))
        if template is None:
            cluster, change = self.drain.add_log_message(masked)
            template = self._template_for(cluster, change)
            if self.cache_size:
                if len(self._shape_cache) >= self.cache_size:
                    self._shape_cache.clear()
                self._shape_cache[masked] = template.id

        template.count += 1
        template.last_seq = self._seq
        return self._result(template, content, truncated)

    def _result(self, template: Template, content: str, truncated: bool) -> MinerResult:
        """`template`'s parameters in `content`; the masked values, flagged unaligned, when it does not fit."""
        params = template.extract(content)
        if params is None:
            return MinerResult(template, self.masker.masked_values(content), False, truncated)
        return MinerResult(template, params, True, truncated)

    def match(self, content: str) -> MinerResult | None:
        """The known template of `content`, without learning: no new template, no count, no generalisation
        (what `/v1/analyze` needs: a look at a line must not change the stream's templates). None if unknown."""
        truncated = len(content) > self.max_content_chars
        content = (content[: self.max_content_chars] if truncated else content).strip()
        hit = self.index.match(content)
        if hit is not None:
            return MinerResult(hit[0], hit[1], True, truncated)
        masked = self.masker.mask(content)
        tid = self._shape_cache.get(masked)
        if tid is None:
            cluster = self.drain.match(masked, "fallback")
            tid = self._cluster_tid.get(cluster.cluster_id) if cluster is not None else None
        template = self.templates.get(self.resolve(tid)) if tid is not None else None
        if template is None:
            return None
        return self._result(template, content, truncated)

    def _template_for(self, cluster: LogCluster, change: str) -> Template:
        cid = cluster.cluster_id
        known = self._cluster_tid.get(cid)
        if known is not None and change == "none":
            template = self.templates.get(self.resolve(known))
            if template is not None:
                return template
        text = canonicalize(" ".join(cluster.log_template_tokens), self.variable_words)
        tid = template_id(self.source, text)
        if len(self._cluster_tid) >= 2 * self.max_templates:  # Drain evicted clusters (LRU): forget them
            live_clusters = self.drain.id_to_cluster
            self._cluster_tid = {c: t for c, t in self._cluster_tid.items() if c in live_clusters}
        self._cluster_tid[cid] = tid
        if known is not None and known != tid:
            self._merge(known, tid, text)
        tid = self.resolve(tid)
        template = self.templates.get(tid)
        if template is None:
            template = self.templates[tid] = Template(tid, text)
            self.index.add(template)
            if len(self.templates) > self.max_templates:
                self._prune()
        return template

    def _merge(self, old: str, new: str, new_text: str) -> None:
        """Record that template `old` generalised into `new` and fold its count in."""
        old = self.resolve(old)
        if old == new or old in self.merged_into or self.resolve(new) == old:
            return
        self.merged_into[old] = new
        self._new_merges.append((old, new))
        previous = self.templates.pop(old, None)
        self.index.remove(old)
        target = self.templates.get(new)
        if target is None:
            target = self.templates[new] = Template(new, new_text)
            self.index.add(target)
        if previous is not None:
            target.count += previous.count
            target.last_seq = max(target.last_seq, previous.last_seq)

    def take_merges(self) -> list[tuple[str, str]]:
        """The (old id, new id) generalisations since the last call, oldest first: a store records them
        with the batch whose lines made them (bounded: a caller that never asks keeps the newest)."""
        taken = list(self._new_merges)
        self._new_merges.clear()
        return taken

    def resolve(self, tid: str) -> str:
        """Follow merge lineage to the id that stands for `tid` now."""
        seen = 0
        while tid in self.merged_into and seen < 64:
            tid = self.merged_into[tid]
            seen += 1
        return tid

    def _prune(self) -> None:
        """Drop the least recently used templates down to 90% of the cap (bounded memory)."""
        keep = int(self.max_templates * 0.9)
        metrics.TEMPLATES_EVICTED.inc(len(self.templates) - keep)
        log.warning("source %r reached parsing.max_templates (%d): dropping the %d least recently used templates",
                    self.source, self.max_templates, len(self.templates) - keep)
        by_age = sorted(self.templates.values(), key=lambda t: t.last_seq, reverse=True)
        self.templates = {t.id: t for t in by_age[:keep]}
        live = set(self.templates)
        self._cluster_tid = {c: t for c, t in self._cluster_tid.items() if self.resolve(t) in live}
        self.merged_into = {o: n for o, n in self.merged_into.items() if self.resolve(n) in live}
        self._shape_cache.clear()
        self._rebuild_index()

    def _rebuild_index(self) -> None:
        self.index.clear()
        for template in self.templates.values():
            self.index.add(template)

    # -- persistence -----------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """A JSON-able snapshot of everything needed to continue mining exactly where we are."""
        return {
            "version": STATE_VERSION,
            "source": self.source,
            "settings": {"sim_th": self.sim_th, "depth": self.depth, "max_children": self.max_children},
            "seq": self._seq,
            "drain": {
                "clusters_counter": self.drain.clusters_counter,
                "clusters": [
                    [c.cluster_id, list(c.log_template_tokens), c.size] for c in self.drain.clusters
                ],
                "tree": _node_to_json(self.drain.root_node),
            },
            "templates": [[t.id, t.text, t.count, t.last_seq] for t in self.templates.values()],
            "cluster_tid": {str(k): v for k, v in self._cluster_tid.items()},
            "merged_into": self.merged_into,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore a snapshot made by `to_state` (raises ValueError/KeyError/TypeError on a bad one)."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"miner state version {state.get('version')!r}, expected {STATE_VERSION}")
        drain_state = state["drain"]
        self.drain.root_node = _node_from_json(drain_state["tree"])
        self.drain.id_to_cluster.clear()
        for cid, tokens, size in drain_state["clusters"]:
            cluster = LogCluster(tokens, int(cid))
            cluster.size = int(size)
            self.drain.id_to_cluster[int(cid)] = cluster
        self.drain.clusters_counter = int(drain_state["clusters_counter"])
        self.templates = {
            tid: Template(str(tid), str(text), int(count), int(last))
            for tid, text, count, last in state["templates"]
        }
        self._cluster_tid = {int(k): str(v) for k, v in state["cluster_tid"].items()}
        self.merged_into = {str(k): str(v) for k, v in state["merged_into"].items()}
        self._seq = int(state["seq"])
        self._shape_cache.clear()
        self._rebuild_index()


def _node_to_json(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if node.key_to_child_node:
        out["c"] = {key: _node_to_json(child) for key, child in node.key_to_child_node.items()}
    if node.cluster_ids:
        out["ids"] = list(node.cluster_ids)
    return out


def _node_from_json(data: dict[str, Any]) -> Node:
    node = Node()
    node.key_to_child_node = {key: _node_from_json(child) for key, child in data.get("c", {}).items()}
    node.cluster_ids = [int(i) for i in data.get("ids", [])]
    return node
