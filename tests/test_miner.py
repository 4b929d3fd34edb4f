from logai.parsing.masking import Masker, load_default_rules
from logai.parsing.miner import TemplateMiner
from logai.parsing.template_ids import template_id

LINES = [
    "user alice logged in from 10.0.0.1",
    "user bob logged in from 10.0.0.2",
    "Receiving block blk_-1 src: /10.0.0.1:5000 dest: /10.0.0.2:50010",
    "Receiving block blk_2 src: /10.0.0.3:5001 dest: /10.0.0.4:50010",
    "disk sda1 is 93% full",
    "user carol logged in from 10.0.0.9",
]


def make_miner(source: str = "app", **kwargs) -> TemplateMiner:
    return TemplateMiner(source, Masker(load_default_rules()), **kwargs)


def mine_all(miner: TemplateMiner, lines: list[str]) -> list[str]:
    return [miner.add(line).template.id for line in lines]


def test_ids_are_hashes_of_source_and_text():
    miner = make_miner()
    result = miner.add("Receiving block blk_-1 src: /10.0.0.1:5000 dest: /10.0.0.2:50010")
    assert result.template.text == "Receiving block <*> src: <*>:<*> dest: <*>:<*>"
    assert result.template.id == template_id("app", result.template.text)
    assert make_miner("other").add("Receiving block blk_3 src: /1.2.3.4:1 dest: /1.2.3.5:2").template.id != \
        result.template.id


def test_same_input_same_ids_in_independent_miners():
    assert mine_all(make_miner(), LINES) == mine_all(make_miner(), LINES)


def test_ids_do_not_depend_on_arrival_order():
    first = make_miner()
    mine_all(first, LINES)
    second = make_miner()
    mine_all(second, list(reversed(LINES)))
    assert {t.text: t.id for t in first.templates.values()} == {t.text: t.id for t in second.templates.values()}


def test_generalisation_records_lineage():
    miner = make_miner()
    old = miner.add("user alice logged in").template
    assert old.text == "user alice logged in"
    new = miner.add("user bob logged in").template
    assert new.text == "user <*> logged in"
    assert miner.merged_into[old.id] == new.id
    assert miner.resolve(old.id) == new.id
    assert old.id not in miner.templates and miner.templates[new.id].count == 2


def test_params_are_exact_substrings():
    miner = make_miner()
    result = miner.add("Receiving block blk_-1 src: /10.0.0.1:5000 dest: /10.0.0.2:50010")
    assert result.params == ["blk_-1", "/10.0.0.1", "5000", "/10.0.0.2", "50010"]
    assert result.aligned


def test_fast_paths_agree_with_the_tree():
    """The template index and the shape cache must give what Drain alone gives."""
    lines = [f"job {i} finished in {i * 3} ms on node-{i % 4}" for i in range(50)] + LINES * 3
    fast = make_miner()
    slow = make_miner(cache_size=0)
    slow.index.sim_th = 2.0  # nothing qualifies for the index: every line walks the tree
    assert [r.template.text for r in map(fast.add, lines)] == [r.template.text for r in map(slow.add, lines)]
    assert len(fast.index) > 0


def test_state_round_trip_continues_identically():
    miner = make_miner()
    mine_all(miner, LINES[:4])
    restored = make_miner()
    restored.load_state(miner.to_state())
    assert mine_all(restored, LINES[4:]) == mine_all(miner, LINES[4:])
    assert restored.merged_into == miner.merged_into
    assert restored.drain.clusters_counter == miner.drain.clusters_counter


def test_memory_is_bounded():
    miner = make_miner(max_templates=10, cache_size=50)
    for i in range(2000):
        miner.add(f"distinct{chr(65 + i % 26)}{chr(65 + (i // 26) % 26)}{chr(65 + i // 676)} message kind")
    assert len(miner.templates) <= 10
    assert len(miner.drain.id_to_cluster) <= 10
    assert len(miner._cluster_tid) <= 20 + 1
    assert len(miner._shape_cache) <= 50


def test_long_content_is_truncated_for_mining():
    miner = make_miner(max_content_chars=100)
    result = miner.add("x " * 500_000)
    assert result.truncated
    assert len(result.template.text) <= 100


def test_generalised_token_keeps_its_brackets():
    """Loghub's templates keep the brackets around a value: `any [<*>] datasource`, `(<*>)`."""
    miner = make_miner()
    for name in ("Thunderbird_C8", "Thunderbird_A5", "LocalCluster"):
        result = miner.add(f"got no answer from any [{name}] datasource ({name})")
    assert result.template.text == "got no answer from any [<*>] datasource (<*>)"


def test_values_of_different_shapes_keep_their_key_and_brackets():
    """`user=gus` then `user=chen.wei` (a dot: another skeleton) gave `<*>`: the key was lost, and the lines of
    one event read `user=<*>` or `<*>` depending on which user came first (the example log's declined
    payments). Now a shared key or bracket pair stays; a shared path or other prefix does not."""
    miner = make_miner()
    for user in ("gus", "chen.wei", "bob", "a.b.c"):
        result = miner.add(f"Payment pay_{len(user)}1 declined: code=card_expired user={user}")
    assert result.template.text == "Payment <*> declined: code=card_expired user=<*>"
    assert result.params == ["pay_51", "a.b.c"]
    for first, second, merged in (("(uid=0)", "(uid=0.5)", "(uid=<*>)"), ("[abc]", "[a.b]", "[<*>]"),
                                  ("/var/log/a.txt", "/var/log/b", "<*>"), ("0|a.b|c", "0|d|e", "<*>")):
        miner = make_miner()
        for value in (first, second):
            result = miner.add(f"opened {value} for reading")
        assert result.template.text == f"opened {merged} for reading", (first, second)


def test_an_empty_value_in_brackets_is_still_the_same_event():
    """`()` and `(host)` are one event with and without its value: at the default similarity the short message
    whose only difference is the empty value stays one template, in either order; other brackets, quotes too
    (before, `connection from <*> () at <*>` had 3 of 6 literal tokens in common with `(<*>)`: two events)."""
    for first, second in (("()", "(gw.example.com)"), ("(gw.example.com)", "()"), ("''", "'bob'")):
        miner = make_miner()
        ids = mine_all(miner, [f"connection from 10.0.0.{i} {value} at 12:00:0{i}"
                               for i, value in enumerate([first, second, first, second])])
        assert len(set(miner.resolve(i) for i in ids)) == 1, (first, second)
        assert miner.templates[miner.resolve(ids[-1])].text.startswith("connection from <*> ")


def test_a_template_of_mostly_values_takes_only_lines_of_its_masked_shape_on_the_fast_path():
    """4 of 7 tokens literal is under the similarity (0.6): Drain takes a line into it only when the line's masked
    shape is the template's. The index (no masking) takes a line of that shape, and leaves any other to the slow
    path, which gives it a template of its own, as before."""
    miner = make_miner()
    first = miner.add("Receiving block blk_1 src: /10.0.0.1:5000 dest: /10.0.0.2:50010").template
    assert first.text == "Receiving block <*> src: <*>:<*> dest: <*>:<*>"
    hit = miner.index.match("Receiving block blk_2 src: /10.0.0.3:5001 dest: /10.0.0.4:50010")
    assert hit is not None and hit[0] is first and hit[1] == ["blk_2", "/10.0.0.3", "5001", "/10.0.0.4", "50010"]
    odd = "Receiving block blk_3 src: gateway:http dest: /10.0.0.4:50010"  # `gateway`, `http`: no mask
    assert miner.index.match(odd) is None
    assert miner.add(odd).template is not first


def test_the_index_compares_literal_tokens_before_aligning():
    """A message of the same first word and length whose literal tokens differ is turned away before alignment,
    and a template that is mostly values is indexed too (its values checked against the masks)."""
    miner = make_miner()
    done = miner.add("job 1 finished in 3 ms on node-1").template
    failed = miner.add("job 2 failed in 4 ms on node-2").template
    assert done is not failed
    hit = miner.index.match("job 7 failed in 9 ms on node-3")
    assert hit is not None and hit[0] is failed and hit[1] == ["7", "9", "node-3"]
    assert miner.index.match("job 7 stopped in 9 ms on node-3") is None
    values = miner.add("10.0.0.1 10.0.0.2 5000 ok").template  # 1 of 4 tokens literal
    assert values.text == "<*> <*> <*> ok"
    hit = miner.index.match("10.0.0.3 10.0.0.4 6000 ok")
    assert hit is not None and hit[0] is values
    assert miner.index.match("10.0.0.3 10.0.0.4 6000 bad") is None
