"""Word tokens of a log message, in the convention of SemParser's annotations (Treebank-like).

Punctuation that delimits words is split off (`src:` -> `src`, `:`; `(uid=0)` -> `(`, `uid`, `=`, `0`, `)`),
punctuation inside a value stays (`/10.0.0.1:50010`, `a.b.C$D`), double quotes become `` and ''.
Each token keeps its character span so instances can be mapped back to the message.
"""

from __future__ import annotations

import re

# A token: a quote, a separator, or a run of anything else. `=`, `$`, `;`, `|` and brackets (also `<>`)
# always split; `,` splits unless a digit follows (`10.0.0.1,10.0.0.2` stays whole); `:` splits unless
# `//` follows or a digit follows a value that is already address-like (`10.0.0.1:50010`, `a.b.com:80`,
# `0:0:0` stay whole; `memory:0` splits); `.` splits only before a space or the end; a single quote is
# a quote only at a word edge (`don't` stays whole).
_TOKEN = re.compile(
    r"""
      (?P<quote>"|(?<![^\s(\[{=:,<])'|'(?=[\s)\]},;:.>]|$))
    | (?P<punct>[()\[\]{}<>;=|$]|,(?!\d)|:(?!//|(?<=[\d.\-]:)\d)|\.(?=\s|$))
    | (?P<word>(?:[^\s()\[\]{}<>;=|$,":.']|,(?=\d)|:(?=//)|(?<=[\d.\-]):(?=\d)|\.(?!\s|$)
                 |'(?=\w)(?<=\w'))+)
    """,
    re.VERBOSE,
)
_OPENS_QUOTE = " \t([{<"


def tokenize(message: str) -> list[tuple[str, int, int]]:
    """(token, start, end) for every token of `message`."""
    out: list[tuple[str, int, int]] = []
    for match in _TOKEN.finditer(message):
        text, start, end = match.group(0), match.start(), match.end()
        if match.lastgroup == "quote":  # Treebank: an opening quote follows a space or bracket
            text = "``" if start == 0 or message[start - 1] in _OPENS_QUOTE else "''"
        elif text.lower() == "cannot":
            out += [(text[:3], start, start + 3), (text[3:], start + 3, end)]
            continue
        out.append((text, start, end))
    return _join_ports(out)


def _join_ports(tokens: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """`a.example.com` `:` `7109` (or `hdfs://nn` `:` `9000`) without spaces is one address, like `10.0.0.1:7109`."""
    out: list[tuple[str, int, int]] = []
    for token in tokens:
        if (len(out) >= 2 and out[-1][0] == ":" and token[0].isdigit() and out[-1][2] == token[1]
                and out[-2][2] == out[-1][1] and ("." in out[-2][0] or "://" in out[-2][0])):
            host = out.pop(-2)
            out[-1] = (host[0] + ":" + token[0], host[1], token[2])
            continue
        out.append(token)
    return out


def words(message: str) -> list[str]:
    return [token for token, _, _ in tokenize(message)]
