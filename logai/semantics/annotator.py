"""The semantics stage: typed parameters, concepts and a conceptualized template for every event.

The pair model runs once per template (on the first message that has it), not per line. Its answer is
turned into recipes over the template's wildcard slots: "slot 2 and slot 3, joined by ':', are the
instance of concept `src`". Every later line of that template only joins strings and looks up the
knowledge base, so semantics cost a small fraction of parsing.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from pathlib import Path

from logai.events import FLAG_PARAMS_UNALIGNED, WILDCARD, Event, message_head
from logai.parsing.template_match import align
from logai.semantics.kb import KnowledgeBase
from logai.semantics.model import PairModel
from logai.semantics.tokenize import tokenize
from logai.semantics.types import value_type

DEFAULT_MODEL = Path(__file__).with_name("pair_model.json")

# A recipe rebuilds a concept or instance from a line's slot values: literal strings, slot numbers, and
# (slot, k) for "the k-th word of that slot's value" (a slot can hold several words: `2703 bytes`).
Recipe = tuple[str | int | tuple[int, int], ...]


@dataclass(frozen=True)
class TemplateSemantics:
    pairs: tuple[tuple[Recipe, Recipe], ...]  # (concept recipe, instance recipe)
    slot_concept: tuple[str | None, ...]  # concept of each wildcard slot (explicit, from the message)
    slot_type: tuple[str, ...]  # type of each slot, from the first message
    conceptualized: str

    @property
    def stated(self) -> list[tuple[str, str]] | None:
        """Every pair, as `str.format` patterns over the slot values (`blk_{2}`); None when a recipe needs a
        word inside a slot (rare: then `_render` is used)."""
        out = []
        for concept, instance in self.pairs:
            concept_format, instance_format = _format_string(concept), _format_string(instance)
            if concept_format is None or instance_format is None:
                return None
            out.append((concept_format, instance_format))
        return out

    @property
    def learnable(self) -> list[int]:
        """The indexes of the pairs worth recording in the knowledge base. Instances whose value is a number,
        size, duration, time or boolean are left out: `0` stated as a `uid` says nothing about the next `0`,
        whereas a block id or an address stays what it was."""
        out = []
        for index, (_, instance) in enumerate(self.pairs):
            slots = [part for part in instance if isinstance(part, int)]
            if not (len(slots) == 1 and len(instance) == 1 and self.slot_type[slots[0]] in NOT_IDENTIFYING):
                out.append(index)
        return out


def _format_string(recipe: Recipe) -> str | None:
    """A recipe as a `str.format` pattern over the slot values, or None when it needs a word inside a slot."""
    out = []
    for part in recipe:
        if isinstance(part, str):
            out.append(part.replace("{", "{{").replace("}", "}}"))
        elif isinstance(part, int):
            out.append(f"{{{part}}}")
        else:
            return None
    return "".join(out)


NOT_IDENTIFYING = frozenset({"integer", "float", "boolean", "size", "duration", "time", "timestamp", "empty"})
_USER_CONCEPTS = frozenset({"user", "username", "login", "account", "owner", "ruser", "luser"})


def _typed(value: str, concept: str | None) -> str:
    """The value's own type, sharpened by its concept where the value alone cannot tell (user names)."""
    kind = value_type(value)
    if kind in ("word", "id", "text") and concept is not None and concept.lower() in _USER_CONCEPTS:
        return "user"
    return kind


def _render(recipe: Recipe, values: list[str]) -> str:
    if len(recipe) == 1:  # the common cases: one slot, or one literal word
        only = recipe[0]
        if isinstance(only, int):
            return values[only]
        if isinstance(only, str):
            return only
    out = []
    for part in recipe:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, int):
            out.append(values[part])
        else:
            slot, k = part
            slot_words = tokenize(values[slot])
            out.append(slot_words[k][0] if k < len(slot_words) else "")
    return "".join(out)


class SemanticAnnotator:
    """Adds types, concepts and a conceptualized template to parsed events."""

    def __init__(self, model: PairModel | None = None, kb: KnowledgeBase | None = None, cache_size: int = 50_000,
                 max_content_chars: int = 8192):
        self.model = model if model is not None else PairModel.load(DEFAULT_MODEL)
        self.max_content_chars = max_content_chars  # the miner's prefix of a long message: what it aligned
        self.kb = kb if kb is not None else KnowledgeBase()  # not `or`: an empty one is falsy
        self.cache_size = cache_size
        # per template: what each of its lines costs (None: the pair model found nothing to say about it)
        self._plans: dict[tuple[str, int], _Plan | None] = {}

    def analyse(self, template: str, content: str, values: list[str]) -> TemplateSemantics | None:
        """Run the pair model on one message of `template` and express its answer in template slots."""
        offset = len(content) - len(content.lstrip())
        found = align(template.split(WILDCARD), content.strip())
        if found is None or len(found) != len(values):
            return None
        spans = [(s + offset, e + offset) for s, e in found]
        tokens = tokenize(content)
        words = [t for t, _, _ in tokens]

        starts = [s for s, _ in spans]  # spans are in order and do not overlap: found by bisection

        def recipe(start: int, end: int) -> Recipe:
            slot = bisect_right(starts, start) - 1
            if slot >= 0:  # the token lies inside one slot: refer to its k-th word
                s, e = spans[slot]
                if s <= start and end <= e and (s, e) != (start, end):
                    for k, (_, ws, we) in enumerate(tokenize(values[slot])):
                        if (s + ws, s + we) == (start, end):
                            return ((slot, k),)
            parts: list[str | int | tuple[int, int]] = []
            pos = start
            for slot in range(bisect_left(starts, start), len(spans)):
                s, e = spans[slot]
                if s >= end:
                    break
                if e <= end and e > s:
                    if s > pos:
                        parts.append(content[pos:s])
                    parts.append(slot)
                    pos = e
            if pos < end:
                parts.append(content[pos:end])
            return tuple(parts)

        pairs: list[tuple[Recipe, Recipe]] = []
        slot_concept: list[str | None] = [None] * len(values)
        instance_spans = []
        for ci, ii in self.model.predict(words):
            _, cs, ce = tokens[ci]
            _, is_, ie = tokens[ii]
            concept_recipe, instance_recipe = recipe(cs, ce), recipe(is_, ie)
            pairs.append((concept_recipe, instance_recipe))
            concept_text = _render(concept_recipe, values)
            for part in instance_recipe:
                slot = part if isinstance(part, int) else part[0] if isinstance(part, tuple) else None
                if slot is not None:
                    slot_concept[slot] = concept_text
            instance_spans.append((is_, ie, concept_text))
        return TemplateSemantics(
            pairs=tuple(pairs),
            slot_concept=tuple(slot_concept),
            slot_type=tuple(_typed(v, c) for v, c in zip(values, slot_concept, strict=True)),
            conceptualized=self._conceptualize(content, spans, instance_spans),
        )

    @staticmethod
    def _conceptualize(content: str, spans: list[tuple[int, int]],
                       instances: list[tuple[int, int, str]]) -> str:
        """The message with each instance as `<*concept*>` and every other variable as `<*>`."""
        edits = [(s, e, f"<*{c}*>") for s, e, c in instances]
        covered = [(s, e) for s, e, _ in instances]
        edits += [(s, e, WILDCARD) for s, e in spans
                  if e > s and not any(cs <= s and e <= ce for cs, ce in covered)]
        out, pos = [], 0
        for s, e, text in sorted(edits):
            if s < pos:
                continue
            out += [content[pos:s], text]
            pos = e
        out.append(content[pos:])
        return " ".join("".join(out).split())

    def semantics_for(self, event: Event) -> TemplateSemantics | None:
        plan = self._plan(event)
        return plan.found if plan is not None else None

    def _plan(self, event: Event) -> _Plan | None:
        key = (event.template_id or "", len(event.params))
        try:
            return self._plans[key]
        except KeyError:
            pass
        content = message_head(event.content)[: self.max_content_chars]
        found = self.analyse(event.template or "", content, [p.value for p in event.params])
        if len(self._plans) >= self.cache_size:  # templates are few; a full cache is simply restarted
            self._plans.clear()
        plan = self._plans[key] = _Plan(found) if found is not None else None
        return plan

    def pairs(self, event: Event) -> list[tuple[str, str]]:
        """The (concept, instance) pairs the event's message states."""
        plan = self._plan(event)
        return plan.pairs([p.value for p in event.params]) if plan is not None else []

    def annotate(self, event: Event, learn: bool = True) -> Event:
        """Fill `params[i].type/concept` and `conceptualized`; learn from (unless not `learn`) and use the
        knowledge base. Runs once per line: the template's plan does the thinking, this only copies."""
        if event.template_id is None or FLAG_PARAMS_UNALIGNED in event.flags:
            return event
        plan = self._plan(event)
        if plan is None:
            return event
        params = event.params
        pairs = plan.pairs([p.value for p in params])
        kb = self.kb
        if learn and plan.learnable:
            observe, line = kb.observe, event.line
            for index in plan.learnable:
                observe(*pairs[index], line)
        concept_of = kb.concept_of
        for param, (kind, stated) in zip(params, plan.slots, strict=True):
            param.type = kind
            if stated is not None:
                param.concept, param.origin = stated, "stated"
            elif (known := concept_of(param.value)) is not None:
                param.concept, param.origin, param.taught_by = known, "kb", kb.taught_by(param.value)
        event.pairs = pairs
        event.conceptualized = plan.found.conceptualized
        return event


class _Plan:
    """A template's semantics as its lines use them: each slot's type and stated concept, and the stated pairs
    built from the slot values by the cheapest means their recipes allow."""

    __slots__ = ("_formats", "_simple", "found", "learnable", "slots")

    def __init__(self, found: TemplateSemantics):
        self.found = found
        self.slots = tuple(zip(found.slot_type, found.slot_concept, strict=True))
        self.learnable = tuple(found.learnable)
        # the common shape: a literal concept and one whole slot as the instance (`block {2}`)
        simple = [(c[0], i[0]) for c, i in found.pairs
                  if len(c) == 1 and isinstance(c[0], str) and len(i) == 1 and isinstance(i[0], int)]
        self._simple = simple if len(simple) == len(found.pairs) else None
        self._formats = found.stated

    def pairs(self, values: list[str]) -> list[tuple[str, str]]:
        if self._simple is not None:
            return [(concept, values[slot]) for concept, slot in self._simple]
        if self._formats is not None:
            return [(c.format(*values), i.format(*values)) for c, i in self._formats]
        return [(_render(c, values), _render(i, values)) for c, i in self.found.pairs]
