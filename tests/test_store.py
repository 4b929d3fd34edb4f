"""The store on SQLite and on the local PostgreSQL server (127.0.0.1:5432, database `test`)."""

from __future__ import annotations

import calendar

import pytest

from logai.events import Event, Param
from logai.store import rows
from logai.store.migrations import SCHEMA_VERSION
from logai.store.store import EventQuery, EventStore


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'logai.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = EventStore(url)
    yield s
    s.close()


def make_event(i: int, template_id: str = "Ta", level: str = "INFO", ts: str = "2026-11-24T10:00:00") -> Event:
    return Event(raw=f"raw {i}", source="app", line=i, timestamp=ts, level=level, content=f"user u{i} logged in",
                 template_id=template_id, template="user <*> logged in",
                 params=[Param(f"u{i}", "word", "user")], fields={"Level": level})


def test_schema_is_migrated(store):
    assert store.schema_version == SCHEMA_VERSION
    assert store.ping()


def test_a_store_from_before_alembic_is_stamped_and_upgraded(tmp_path):
    """Version 2 as the hand-written migrations left it (tables up to `requests`, the version in logai_meta):
    Alembic takes over from revision 0002 and adds the rest without creating anything twice."""
    import sqlalchemy as sa

    from logai.store import schema
    from logai.store.migrations import REVISIONS, current_version, migrate

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    old = [t for t in schema.metadata.sorted_tables
           if t.name not in ("feedback", "incidents", "alert_deliveries", "level_counts")]
    with engine.begin() as conn:
        schema.metadata.create_all(conn, tables=old)
        conn.execute(schema.meta.insert().values(key="schema_version", value="2"))
        conn.execute(schema.requests.insert().values(request_id="r1", body_sha256="d", created_at=1.0))
    with engine.begin() as conn:
        assert current_version(conn) == 2
        assert migrate(conn) == SCHEMA_VERSION
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        assert {"feedback", "incidents", "alert_deliveries", "level_counts", "alembic_version"} <= tables
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == REVISIONS[-1]
        assert conn.execute(sa.select(schema.requests.c.request_id)).scalars().all() == ["r1"]  # kept


def _upgraded_from(path, revision: str, *undo: str):
    """A store at the newest revision, taken back to `revision` by the `undo` statements, then migrated again:
    what a user's older store goes through. Returns the engine."""
    import sqlalchemy as sa

    from logai.store.migrations import migrate

    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        migrate(conn)
        for statement in [*undo, f"UPDATE alembic_version SET version_num = '{revision}'"]:
            conn.execute(sa.text(statement))
    with engine.begin() as conn:
        assert migrate(conn) == SCHEMA_VERSION
    return engine


def test_a_store_at_0004_gains_template_lineage(tmp_path):
    """A store made before templates recorded their lineage: 0005 adds `merged_into`, keeping the rows."""
    import sqlalchemy as sa

    engine = _upgraded_from(tmp_path / "at4.db", "0004",
                            "INSERT INTO templates VALUES ('Ta', 'app', 'user <*>', 3, 1.0, 2.0, NULL)",
                            "DROP INDEX ix_templates_merged_into", "ALTER TABLE templates DROP COLUMN merged_into")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT template_id, count, merged_into FROM templates")).all() == [("Ta", 3, None)]


def test_a_store_at_0009_gains_incident_resolutions(tmp_path):
    """A store made before incidents said why they resolved: 0010 adds `resolution`, keeping the incidents."""
    import sqlalchemy as sa

    insert = ("INSERT INTO incidents (source, group_labels, state, severity, start_ts, end_ts, opened_at, updated_at,"
              " count, templates, signals, samples) VALUES ('app', '{}', 'resolved', 'warning', 1.0, 2.0, 3.0, 4.0, 5,"
              " '{}', '{}', '[]')")
    engine = _upgraded_from(tmp_path / "at9.db", "0009", insert, "ALTER TABLE incidents DROP COLUMN resolution")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT source, count, resolution FROM incidents")).all() == [("app", 5, None)]


def test_a_store_at_0010_gains_incident_trackers(tmp_path):
    """A store made before incidents said which process tracks them: 0011 adds `tracker` and `tracker_seen`,
    keeping the incidents, whose open ones the next process to start takes (no tracker: an orphan)."""
    import sqlalchemy as sa

    from logai.store.incidents import IncidentStore

    insert = ("INSERT INTO incidents (source, group_labels, state, severity, start_ts, end_ts, opened_at, updated_at,"
              " count, templates, signals, samples) VALUES ('app', '{}', 'open', 'warning', 1.0, 2.0, 3.0, 4.0, 5,"
              " '{}', '{}', '[]')")
    engine = _upgraded_from(tmp_path / "at10.db", "0010", insert, "ALTER TABLE incidents DROP COLUMN tracker",
                            "ALTER TABLE incidents DROP COLUMN tracker_seen")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT source, count, tracker FROM incidents")).all() == [("app", 5, None)]
    incidents = IncidentStore(EventStore(f"sqlite:///{tmp_path / 'at10.db'}"))
    assert [row["source"] for row in incidents.adopt("me", 10.0, 60.0, released=False)] == ["app"]
    assert incidents.adopt("another", 11.0, 60.0, released=True) == []  # taken, and its tracker is alive


def test_a_store_at_0011_gains_the_path_of_corrected_verdicts(tmp_path):
    """A store made before corrections said which path gave the verdict: 0012 adds `verdict_path`, keeping
    the corrections (not known for them)."""
    import sqlalchemy as sa

    insert = ("INSERT INTO feedback (task, source, input, log, old_label, new_label, reason, who, created_at) "
              "VALUES ('anomaly', 'app', 'ERROR\tdisk full', 'disk full', 'abnormal', 'normal', '', 'alice', 1.0)")
    engine = _upgraded_from(tmp_path / "at11.db", "0011", insert, "ALTER TABLE feedback DROP COLUMN verdict_path")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT who, new_label, verdict_path FROM feedback")).all() == [
            ("alice", "normal", None)]


def test_a_store_at_0012_gains_the_days_llm_calls(tmp_path):
    """0013 creates `llm_calls` where it is missing: the daily LLM budgets are counted in the store."""
    from logai.store.llm_calls import LlmCallCounter

    _upgraded_from(tmp_path / "at12.db", "0012", "DROP TABLE llm_calls")
    counter = LlmCallCounter(EventStore(f"sqlite:///{tmp_path / 'at12.db'}"))
    assert [counter.take("route", 7, 2) for _ in range(3)] == [1, 2, None] and counter.used("route", 7) == 2


def test_generalised_templates_count_under_the_one_that_replaced_them(store):
    """`user alice logged in` (Ta) generalised into Tb, and Tb later into Tc: the list shows Tc alone, with
    every line; each older template says what stands for it now, in one step."""
    store.write([("app|0|1", make_event(1, "Ta")), ("app|0|2", make_event(2, "Ta"))])
    store.write(rows.prepare([("app|0|3", make_event(3, "Tb"))], merges=[("Ta", "Tb")]))
    store.write(rows.prepare([("app|0|4", make_event(4, "Tc")), ("app|0|5", make_event(5, "Tc"))],
                             merges=[("Tb", "Tc")]))
    listed = store.templates(source="app")
    assert [(t["template_id"], t["count"]) for t in listed] == [("Tc", 5)]
    assert [store.template(t)["merged_into"] for t in ("Ta", "Tb", "Tc")] == ["Tc", "Tc", None]
    assert store.stats()["templates"] == 1
    replay = store.write(rows.prepare([("app|0|3", make_event(3, "Tb"))], merges=[("Ta", "Tb")]))
    assert replay.inserted == 0 and store.template("Ta")["merged_into"] == "Tc"  # not back to Tb, merged since
    assert [(t["template_id"], t["count"]) for t in store.templates(source="app")] == [("Tc", 5)]


def test_every_revision_file_is_known():
    """`migrations.REVISIONS` names the files under alembic/versions: a revision missing from it would be applied,
    then refused when the store is opened again."""
    from pathlib import Path

    from logai.store.migrations import REVISIONS

    folder = Path(rows.__file__).with_name("alembic") / "versions"
    assert sorted(p.name.split("_")[0] for p in folder.glob("0*.py")) == REVISIONS


@pytest.mark.parametrize(("revision", "table", "index"), [("0005", "analyses", "ix_analyses_label"),
                                                           ("0007", "template_counts", "ix_template_counts_bucket"),
                                                           ("0008", "templates", "ix_templates_merged_into")])
def test_a_store_from_before_an_index_gains_it(tmp_path, revision, table, index):
    import sqlalchemy as sa

    engine = _upgraded_from(tmp_path / "old.db", revision, f"DROP INDEX {index}")
    with engine.connect() as conn:
        assert index in {i["name"] for i in sa.inspect(conn).get_indexes(table)}


def test_a_store_at_0006_gains_level_counts_from_its_events(tmp_path):
    """The counts a store kept before 0007 are taken from its events once, at the upgrade."""
    import sqlalchemy as sa

    store = EventStore(f"sqlite:///{tmp_path / 'at6.db'}")
    store.write([(f"app|0|{i}", make_event(i, level=level)) for i, level in enumerate(["INFO", "INFO", "ERROR"])])
    store.close()
    engine = _upgraded_from(tmp_path / "at6.db", "0006", "DROP TABLE level_counts")
    with engine.connect() as conn:
        assert dict(conn.execute(sa.text("SELECT level, count FROM level_counts")).all()) == {"INFO": 2, "ERROR": 1}


def test_level_counts_follow_writes_replays_and_retention(store):
    """The overview's counts, kept beside the events, say what a GROUP BY over the events says after new
    events, a replay (nothing counted twice), events without a level, and retention deleting the oldest."""
    import sqlalchemy as sa

    def scanned() -> dict[str, int]:
        with store.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT level, count(*) FROM events GROUP BY level")).all()
        return {str(level): n for level, n in rows}

    levels = ["INFO", "ERROR", None, "INFO", "WARN", "ERROR", "INFO"]
    batch = [(f"app|0|{i}", make_event(i, level=level)) for i, level in enumerate(levels)]
    store.write(batch[:4])
    store.write(batch[2:])  # two of them again
    stats = store.stats()
    assert stats["events_by_level"] == scanned() == {"INFO": 3, "ERROR": 2, "None": 1, "WARN": 1}
    assert stats["events"] == 7
    assert store.apply_retention(max_events=3) == 4
    stats = store.stats()
    assert stats["events_by_level"] == scanned() and stats["events"] == 3


def test_abnormal_verdicts_are_counted_and_drawn_at_their_events_time(store):
    """The overview's cards and chart: abnormal verdicts apart from the detectors' anomalies, each at the time
    of the event it judged (a replayed log draws where it happened, not when it was judged)."""
    from logai.store.timeline import timeline

    written = store.write([("app|0|1", make_event(1, ts="2026-11-24T10:00:05")),
                           ("app|0|2", make_event(2, ts="2026-11-24T10:01:05")),
                           ("app|0|3", make_event(3, ts="2026-11-24T10:01:30"))])
    ids = [written.event_ids[i] for i in range(3)]
    store.add_analyses([{"event_id": event_id, "task": "anomaly", "label": label, "model": "slm:anomaly",
                         "confidence": 0.9, "provenance": {}}
                        for event_id, label in zip(ids, ["normal", "abnormal", "abnormal"], strict=True)])
    stats = store.stats()
    assert (stats["analyses"], stats["abnormal_verdicts"], stats["anomalies"]) == (3, 2, 0)
    start = calendar.timegm((2026, 11, 24, 10, 0, 0))
    points = timeline(store, start, start + 180, 60)
    assert [(p["events"], p["abnormal"]) for p in points] == [(1, 0), (2, 2), (0, 0)]
    assert [p["abnormal"] for p in timeline(store, start, start + 180, 60, source="elsewhere")] == [0, 0, 0]


def test_the_template_list_looks_up_replaced_templates_by_index(tmp_path):
    """Each listed template sums the counts of those it replaced: by the merged_into index, not a scan of every
    template per template (a list of 8,000 took 3.2 s that way, 7 ms with the index). The query plan says it."""
    import sqlalchemy as sa

    store = EventStore(f"sqlite:///{tmp_path / 'plan.db'}")
    executed: list[tuple[str, object]] = []
    sa.event.listen(store.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, params, context, many: executed.append((statement, params)))
    store.templates(limit=50)
    statement, params = next((q, p) for q, p in executed if "FROM templates" in q)
    with store.engine.connect() as conn:
        plan = " ".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params))
    store.close()
    assert "ix_templates_merged_into" in plan, plan


def test_console_and_loki_views_count_a_lineage_once(store):
    """What changed, the sources page and Grafana's patterns read templates as they stand now too."""
    from logai.store.logql import parse
    from logai.store.loki_read import LokiReader
    from logai.store.timeline import sources, template_changes

    store.write([("app|0|1", make_event(1, "Ta"))])
    store.write(rows.prepare([(f"app|0|{i}", make_event(i, "Tb")) for i in range(2, 5)], merges=[("Ta", "Tb")]))
    changes = template_changes(store, 3600)
    assert [(c["template_id"], c["recent"]) for c in changes] == [("Tb", 4)]
    assert [(s["source"], s["templates"], s["events"]) for s in sources(store)] == [("app", 1, 4)]
    start = calendar.timegm((2026, 11, 24, 9, 0, 0))
    patterns = LokiReader(store).patterns(parse('{source="app"}'), start, start + 7200, 60)
    assert [(p["pattern"], sum(n for _, n in p["samples"])) for p in patterns] == [("user <_> logged in", 4)]


def test_a_store_newer_than_this_logai_is_refused(tmp_path):
    import sqlalchemy as sa

    from logai.store.migrations import migrate

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'new.db'}")
    with engine.begin() as conn:
        migrate(conn)
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    with engine.begin() as conn, pytest.raises(RuntimeError, match="0099"):
        migrate(conn)


def test_writes_are_idempotent_by_ingest_key(store):
    batch = [(f"app|0|{i}", make_event(i)) for i in range(10)]
    assert store.write(batch).inserted == 10
    again = store.write([*batch[5:], ("app|0|10", make_event(10))])  # a replay after a crash, plus one new
    assert (again.inserted, again.duplicates) == (1, 5)
    assert store.stats()["events"] == 11
    template = store.template("Ta")
    assert template is not None and template["count"] == 11  # counted once per event, not per delivery


def test_duplicate_keys_inside_one_batch(store):
    result = store.write([("k1", make_event(1)), ("k1", make_event(1))])
    assert (result.inserted, result.duplicates) == (1, 1)


def test_event_queries_filter_and_paginate(store):
    batch = [(f"k{i}", make_event(i, template_id="Ta" if i % 2 else "Tb", level="ERROR" if i % 3 == 0 else "INFO",
                                  ts=f"2026-11-24T10:00:{i:02d}")) for i in range(30)]
    store.write(batch)
    rows, cursor = store.events(EventQuery(limit=10))
    assert len(rows) == 10 and cursor is not None and rows[0]["line"] == 29
    rest, _ = store.events(EventQuery(limit=100, cursor=cursor))
    assert len(rest) == 20 and {r["line"] for r in rows}.isdisjoint(r["line"] for r in rest)
    errors, _ = store.events(EventQuery(level="error", limit=100))
    assert {r["line"] for r in errors} == {i for i in range(30) if i % 3 == 0}
    only_b, _ = store.events(EventQuery(template_id="Tb", limit=100))
    assert len(only_b) == 15
    by_value, _ = store.events(EventQuery(concept="user", value="u7", limit=100))
    assert [r["line"] for r in by_value] == [7]
    text_hits, _ = store.events(EventQuery(q="U12 LOGGED", limit=100))
    assert [r["line"] for r in text_hits] == [12]
    start = calendar.timegm((2026, 11, 24, 10, 0, 10, 0, 0, 0))
    window, _ = store.events(EventQuery(start=start, end=start + 5, limit=100))
    assert sorted(r["line"] for r in window) == [10, 11, 12, 13, 14]


def test_templates_with_counts_and_series(store):
    store.write([(f"k{i}", make_event(i, ts=f"2026-11-24T10:0{i // 4}:00")) for i in range(8)])
    listed = store.templates()
    assert listed[0]["template_id"] == "Ta" and listed[0]["count"] == 8
    detail = store.template("Ta")
    assert detail is not None
    assert [b["count"] for b in detail["series"]] == [4, 4]
    assert detail["first_seen"] < detail["last_seen"]
    assert store.template("nope") is None


def test_dead_letters_keep_raw_bytes_and_reason(store):
    store.dead_letter("app", b"\xff\xfe garbage", "could not decode", ingest_key="app|0|99")
    (row,) = store.dead_letters()
    assert row["raw"] == b"\xff\xfe garbage" and "decode" in row["error"]


def test_retention_by_count_and_age(store):
    """Events go with their verdicts (one per event by default); by age, verdicts on no stored event, the
    detectors' anomalies and dead letters go too."""
    written = store.write([(f"k{i}", make_event(i)) for i in range(20)])
    store.add_analyses([{"event_id": written.event_ids[i], "task": "anomaly", "label": "normal", "model": "slm",
                         "confidence": 1.0, "provenance": {}} for i in range(20)]
                       + [{"task": "anomaly", "label": "abnormal", "model": "slm", "provenance": {}}])  # /v1/analyze
    store.add_anomaly(100.0, "app", "new_template", 1.0, None, {})
    store.dead_letter("app", b"\xff", "decode error")
    assert store.apply_retention(max_events=5) == 15
    rows, _ = store.events(EventQuery(limit=100))
    assert sorted(r["line"] for r in rows) == [15, 16, 17, 18, 19]
    kept = {written.event_ids[i] for i in range(15, 20)}
    assert {a["event_id"] for a in store.analyses(limit=100)} == {*kept, None}
    stats = store.stats()
    assert (stats["analyses"], stats["anomalies"], stats["dead_letters"]) == (6, 1, 1)
    assert store.apply_retention(max_age_seconds=-1) == 5  # everything is older than "1 s in the future"
    stats = store.stats()
    assert (stats["events"], stats["analyses"], stats["anomalies"], stats["dead_letters"]) == (0, 0, 0, 0)


def test_retention_drops_the_template_counts_of_minutes_before_the_oldest_event_kept(store):
    from logai.store.timeline import timeline

    store.write([(f"k{i}", make_event(i, ts=f"2026-11-24T10:0{i}:30")) for i in range(5)])  # one a minute
    start = calendar.timegm((2026, 11, 24, 10, 0, 0))
    assert [p["events"] for p in timeline(store, start, start + 300, 60)] == [1, 1, 1, 1, 1]
    assert store.apply_retention(max_events=2) == 3
    assert [p["events"] for p in timeline(store, start, start + 300, 60)] == [0, 0, 0, 1, 1]
    assert store.template("Ta")["count"] == 5  # a template's total stays what it has seen


def test_anomalies_are_stored_with_evidence_and_listed_newest_first(store):
    first = store.add_anomaly(100.0, "hdfs", "new_template", 1.0, None, {"template_id": "Tx", "count": 1})
    second = store.add_anomaly(200.0, "hdfs", "pca", 7.5, 3.2, {"templates": {"Ta": 40}})
    rows = store.anomalies()
    assert [r["id"] for r in rows] == [second, first]
    assert rows[0]["evidence"] == {"templates": {"Ta": 40}} and rows[0]["threshold"] == 3.2
    assert [r["id"] for r in store.anomalies(start=150.0)] == [second]
