"""Canonical template rendering, after Khan et al., "Guidelines for Assessing the Accuracy of Log Message
Template Identification Techniques" (ICSE'22), the conventions of the corrected Loghub ground truth.

Two parsers that agree on what is variable can still write different strings (`blk_<*>` or `<*>`,
`<*> <*>` or `<*>`). Rendering every template in one canonical form makes ids stable and makes templates
comparable with the ground truth. The rules, in order:

- DS  collapse runs of whitespace;
- PS  a path-like token (`/a/b`) is a variable;
- BL/US  the words true/false/null (and configured user strings) are variables;
- DG  a token of digits only is a variable;
- WV  a word glued to a variable (`blk_<*>`, `<*>ms`) is one variable;
- DV  variables joined by dots (`<*>.<*>`) are one variable;
- CV  adjacent variables (`<*><*>`) are one variable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from logai.events import WILDCARD

_PATH_DELIMS = r"\s,!;:=|\"'\[\](){}"
_PATH_SPLIT = re.compile(f"([{_PATH_DELIMS}])")
_TOKEN_SPLIT = re.compile(f"([{_PATH_DELIMS}.\\-+@#$%&])")
_PATH_LIKE = re.compile(r"^(?:/[^/]+)+$")
_DIGITS = re.compile(r"^\d+$")
_GLUED = re.compile(r"^[^\s/]*<\*>[^\s/]*$")
_WS = re.compile(r"\s+")
_DOT_VARS = re.compile(r"<\*>\.<\*>")
_ADJACENT_VARS = re.compile(r"(?:<\*>){2,}")

# Booleans, null and the guideline's default user strings (user names that stand in for a variable).
DEFAULT_VARIABLE_WORDS = frozenset({"true", "false", "null", "root", "admin"})


def canonicalize(template: str, variable_words: Iterable[str] = DEFAULT_VARIABLE_WORDS) -> str:
    """Render a template (with `<*>` wildcards) in canonical form. Idempotent."""
    words = {w.lower() for w in variable_words}
    text = _WS.sub(" ", template.strip())

    # PS: path-like tokens between the coarse delimiters
    text = "".join(WILDCARD if _PATH_LIKE.match(tok) else tok for tok in _PATH_SPLIT.split(text))

    # BL/US, DG, WV on fine tokens (delimiters kept)
    out = []
    for tok in _TOKEN_SPLIT.split(text):
        is_variable_word = bool(tok) and (tok.lower() in words or _DIGITS.match(tok) is not None)
        is_glued = WILDCARD in tok and tok not in (WILDCARD, "<*>/<*>") and _GLUED.match(tok) is not None
        if is_variable_word or is_glued:
            tok = WILDCARD
        out.append(tok)
    text = "".join(out)

    # DV then CV, to a fixed point
    previous = None
    while previous != text:
        previous = text
        text = _DOT_VARS.sub(WILDCARD, text)
        text = _ADJACENT_VARS.sub(WILDCARD, text)
    return text
