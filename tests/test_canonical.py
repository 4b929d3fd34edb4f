import pytest

from logai.parsing.canonical import canonicalize
from logai.parsing.template_match import find_params


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("a  b\t c", "a b c"),  # DS
        ("open /var/log/x.log now", "open <*> now"),  # PS
        ("flag=true other=False", "flag=<*> other=<*>"),  # BL
        ("user root logged in", "user <*> logged in"),  # US
        ("retry 3 of 5", "retry <*> of <*>"),  # DG
        ("block blk_<*> done", "block <*> done"),  # WV
        ("took <*>ms", "took <*>"),  # WV
        ("version <*>.<*>.<*>", "version <*>"),  # DV
        ("id <*><*>", "id <*>"),  # CV
        ("ssh2 jk2_init() eth0", "ssh2 jk2_init() eth0"),  # identifiers with digits stay
        ("src: /<*>:<*>", "src: <*>:<*>"),
    ],
)
def test_rules(template, expected):
    assert canonicalize(template) == expected


def test_idempotent():
    for t in ["x /a/b <*>.<*> blk_<*> 12 true", "<*>:<*> open through proxy <*>:<*> HTTPS"]:
        once = canonicalize(t)
        assert canonicalize(once) == once


def test_template_alignment_captures_each_wildcard():
    pieces = ["Receiving block ", " src: ", ":", ""]
    assert find_params(pieces, "Receiving  block blk_1 src: /10.0.0.1:50010", within_tokens=False) == [
        "blk_1", "/10.0.0.1", "50010"]
    assert find_params(pieces, "Sending block blk_1 src: a:b", within_tokens=False) is None
