import os

from logai.doors.file_tail import FileTail


def lines(tail: FileTail) -> list[bytes]:
    return [t.data for t in tail.read()]


def test_follows_appends_and_waits_for_complete_lines(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"one\ntwo\npart")
    tail = FileTail(log)
    assert lines(tail) == [b"one", b"two"]
    with log.open("ab") as f:
        f.write(b"ial\r\nthree\n")
    assert lines(tail) == [b"partial", b"three"]
    assert lines(tail) == []


def test_rotation_reads_the_rest_of_the_old_file_then_the_new_one(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"a\n")
    tail = FileTail(log)
    assert lines(tail) == [b"a"]
    with log.open("ab") as f:
        f.write(b"b\n")
    os.rename(log, tmp_path / "app.log.1")
    log.write_bytes(b"c\nd\n")
    assert lines(tail) == [b"b", b"c", b"d"]


def test_truncation_starts_over(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"long line number one\nlong line number two\n")
    tail = FileTail(log)
    assert len(lines(tail)) == 2
    log.write_bytes(b"x\n")  # truncated and rewritten in place
    assert lines(tail) == [b"x"]


def test_position_survives_a_restart_and_identities_are_stable(tmp_path):
    log, offsets = tmp_path / "app.log", tmp_path / "offsets.json"
    log.write_bytes(b"1\n2\n3\n")
    first = FileTail(log, offsets)
    got = first.read(max_lines=2)
    first.commit()
    first.close()
    with log.open("ab") as f:
        f.write(b"4\n")
    second = FileTail(log, offsets)
    rest = second.read()
    assert [t.data for t in got] == [b"1", b"2"] and [t.data for t in rest] == [b"3", b"4"]
    assert [t.offset for t in got + rest] == [0, 2, 4, 6]
    assert [t.number for t in got + rest] == [1, 2, 3, 4]  # line numbers carry on after the restart
    assert len({t.inode for t in got + rest}) == 1


def test_offsets_saved_without_line_numbers_count_the_lines_before_them(tmp_path):
    import orjson

    log, offsets = tmp_path / "app.log", tmp_path / "offsets.json"
    log.write_bytes(b"a\nb\nc\n")
    first = FileTail(log, offsets)
    first.read(max_lines=2)
    first.commit()
    saved = orjson.loads(offsets.read_bytes())
    for entry in saved.values():  # the form written before line numbers were saved
        del entry["line"]
    offsets.write_bytes(orjson.dumps(saved))
    assert [(t.number, t.data) for t in FileTail(log, offsets).read()] == [(3, b"c")]


def test_unread_gives_the_same_lines_again(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b"a\nb\nc\n")
    tail = FileTail(log)
    got = tail.read()
    assert tail.unread(got[1]) and [(t.number, t.offset, t.data) for t in tail.read()] == [(2, 2, b"b"), (3, 4, b"c")]


def test_missing_file_is_waited_for(tmp_path):
    tail = FileTail(tmp_path / "later.log")
    assert lines(tail) == []
    (tmp_path / "later.log").write_bytes(b"hello\n")
    assert lines(tail) == [b"hello"]


def test_watcher_ingests_follows_and_applies_retention(tmp_path):
    from logai.bootstrap import build_service
    from logai.config import RetentionConfig, Settings
    from logai.doors.watcher import FileWatcher, Retention

    log = tmp_path / "hdfs.log"
    line = b"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_%d terminating\n"
    log.write_bytes(b"".join(line % i for i in range(5)))
    service = build_service(Settings(data_dir=tmp_path / "data"))
    watcher = FileWatcher(service, [(log, "HDFS")], tmp_path / "data" / "offsets.json",
                          Retention(RetentionConfig(max_events=6, interval_s=0.001)))
    assert watcher.poll_once() == 5
    with log.open("ab") as f:
        f.write(b"".join(line % i for i in range(5, 8)))
    assert watcher.poll_once() == 3
    assert service.store.stats()["events"] == 6  # 8 stored, retention keeps the newest 6
    again = FileWatcher(service, [(log, "HDFS")], tmp_path / "data" / "offsets.json", Retention(RetentionConfig()))
    assert again.poll_once() == 0  # resumed after the last stored line
    service.close()


def test_a_file_given_to_ingest_and_watch_is_stored_once(tmp_path):
    """Both file doors name a line by `ingest_key("file", name, inode, offset)`: the same line, the same key."""
    from logai.bootstrap import build_service
    from logai.config import RetentionConfig, Settings
    from logai.doors.files import ingest_file
    from logai.doors.watcher import FileWatcher, Retention

    log = tmp_path / "app.log"
    log.write_bytes(b"".join(b"2024-01-01 00:00:0%d INFO worker %d started\n" % (i, i) for i in range(6)))
    service = build_service(Settings(data_dir=tmp_path / "data"))
    assert ingest_file(service, log, None) == 6
    assert ingest_file(service, log, None) == 0  # again: every key already stored
    watcher = FileWatcher(service, [(log, "generic")], tmp_path / "data" / "offsets.json",
                          Retention(RetentionConfig()))
    assert watcher.poll_once() == 6  # read, but each line's key is already there
    assert service.store.stats()["events"] == 6
    service.close()
