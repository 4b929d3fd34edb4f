"""The error-prone case library on the packaged MiniLM and a real FAISS index."""

from __future__ import annotations

import pytest

from logai.route.cases import Case, CaseLibrary


@pytest.fixture(scope="module")
def embedder():
    from logai.slm.embeddings import SentenceEmbedder

    return SentenceEmbedder()


def _cases() -> list[Case]:
    return [
        Case("instruction cache parity error corrected", "instruction cache parity error corrected", "normal",
             "abnormal", "corrected parity errors are routine"),
        Case("data TLB error interrupt", "data TLB error interrupt", "abnormal", "normal",
             "a TLB error interrupt stops the job"),
        Case("ciod: failed to read message prefix on control stream", "ciod: failed to read message prefix on "
             "control stream <*>", "abnormal", "normal", "the control stream broke"),
        Case("generating core.2275", "generating core.<*>", "normal", "abnormal", "core files are written on exit",
             task="diagnosis"),
    ]


def test_search_finds_the_most_similar_mistakes(embedder):
    library = CaseLibrary(embedder)
    library.add(_cases())
    found = library.search("data TLB error interrupt on node R23", k=2)
    assert found[0][0].log == "data TLB error interrupt" and found[0][1] > found[1][1]
    assert [c.task for c, _ in library.search("core dump written", k=3, task="diagnosis")] == ["diagnosis"]


def test_online_growth_persistence_and_hnsw(embedder, tmp_path):
    library = CaseLibrary(embedder, hnsw_threshold=5)
    library.add(_cases())
    assert library.kind == "flat"
    library.add([Case("kernel panic - not syncing", "kernel panic - not syncing", "abnormal", "normal", "panic"),
                 Case("user root logged in", "user <*> logged in", "normal", "abnormal", "a login")])
    assert library.kind == "hnsw" and len(library) == 6  # outgrew flat search: rebuilt once
    assert library.search("kernel panic", k=1)[0][0].reason == "panic"
    loaded = CaseLibrary.load(library.save(tmp_path / "cases"), embedder)
    assert len(loaded) == 6 and loaded.search("kernel panic", k=1)[0][0].reason == "panic"
    (tmp_path / "cases" / "cases.jsonl").write_text("")
    with pytest.raises(ValueError, match="sha256"):  # checked before anything is parsed
        CaseLibrary.load(tmp_path / "cases", embedder)


def test_a_crafted_vector_file_never_runs_code(embedder, tmp_path):
    """An object array in cases.npy is a pickle; even with a manifest whose hashes match, it is refused."""
    import json

    import numpy as np

    from logai.checksums import hashes

    folder = CaseLibrary(embedder).save(tmp_path / "cases")
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (marker.write_text, ("ran",))

    np.save(folder / "cases.npy", np.array([Exploit()], dtype=object), allow_pickle=True)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = hashes(folder, ["cases.npy", "cases.jsonl"])
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="pickle"):
        CaseLibrary.load(folder, embedder)
    assert not marker.exists()
