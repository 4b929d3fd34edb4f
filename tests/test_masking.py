import pytest

from logai.config import ConfigError, MaskingOverride, MaskRule
from logai.parsing.masking import Masker, effective_rules, load_default_rules


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker(load_default_rules())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from 10.250.19.102 ok", "from <*> ok"),
        ("peer 10.0.0.1:50010 up", "peer <*>:<*> up"),
        ("hosts 10.0.0.1,10.0.0.2 up", "hosts <*> up"),
        ("req 8c1f3b2e-4d5a-4b6c-9d7e-0f1a2b3c4d5e done", "req <*> done"),
        ("addr 0x7ffd5e8c ok", "addr <*> ok"),
        ("open /var/log/app.log", "open <*>"),
        ("GET /v2/servers/detail?limit=10&x=y HTTP/1.1", "GET <*> HTTP/<*>"),
        ("fetch https://psp.example.com/v2/charges now", "fetch https://<*> now"),
        ("block blk_-6952295868487656571 done", "block <*> done"),
        ("generating core.2275", "generating core.<*>"),  # Loghub keeps the word before a dot
        ("task attempt_1445_0020_m_000000_0 took 35 ms", "task <*> took <*> ms"),
        ("at Sun Jul 17 21:00:08 2005 end", "at <*> end"),
        ("lifetime 00:01:30", "lifetime <*>"),
        ("sent 1,234 bytes (1.2 KB) now", "sent <*> now"),
        ("jk2_init() Found ssh2 eth0", "jk2_init() Found ssh2 eth0"),
        ("proxy.cse.cuhk.edu.hk:5070 open", "<*>:<*> open"),
        ("mac 00:1a:2b:3c:4d:5e", "mac <*>"),
    ],
)
def test_default_rules(masker, text, expected):
    assert masker.mask(text) == expected


def test_masked_values_in_order(masker):
    assert masker.masked_values("a 10.0.0.1:80 b 7") == ["10.0.0.1", "80", "7"]


def test_format_override_extends_and_disables():
    rules = [MaskRule(name="number", pattern=r"\d+"), MaskRule(name="word", pattern=r"secret")]
    override = MaskingOverride(disable=["word"], extend=[MaskRule(name="tok", pattern=r"tok_\w+")])
    masker = Masker(effective_rules(rules, override))
    assert masker.mask("tok_ab secret 12") == "<*> secret <*>"


def test_invalid_regex_is_a_clear_config_error():
    with pytest.raises(ConfigError, match="masking rule 'bad'"):
        Masker([MaskRule(name="bad", pattern="(unclosed")])
