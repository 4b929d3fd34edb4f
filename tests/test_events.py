import orjson
import pytest

from logai.events import SCHEMA_VERSION, Event, Param


def make_event() -> Event:
    return Event(raw="r a w", source="s", line=3, offset=10, timestamp="2024-01-01T00:00:00", level="INFO",
                 fields={"Level": "INFO"}, content="hello 42", template_id="Tabc", template="hello <*>",
                 params=[Param("42", "integer", "count")], flags=["x"])


def test_json_round_trip_is_lossless():
    event = make_event()
    assert Event.from_json(event.to_json()) == event


def test_json_has_stable_key_order_and_version():
    data = orjson.loads(make_event().to_json())
    assert list(data) == ["v", "source", "line", "offset", "timestamp", "level", "template_id", "template",
                          "conceptualized", "params", "pairs", "fields", "content", "raw", "flags"]
    assert data["v"] == SCHEMA_VERSION
    assert data["params"] == [{"value": "42", "type": "integer", "concept": "count"}]


def test_unknown_schema_version_is_refused():
    data = make_event().to_dict() | {"v": 99}
    with pytest.raises(ValueError, match="schema version"):
        Event.from_dict(data)
