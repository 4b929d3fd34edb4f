"""Ingest keys: the one way every door names a record, so a record delivered twice is stored once.

A key is `<door>:<part>|<part>|...`, the parts saying where the record came from in the order the door reads
them (file inode and byte offset, Kafka partition and offset, request and line number, time and content
hash). Integers are zero-padded, so one door's keys sort in arrival order and land together in the store's
unique index. The same line reached by two paths of one door (a file given to `--ingest` and `--watch`)
gets the same key.
"""

from __future__ import annotations

import hashlib


def ingest_key(door: str, *parts: str | int) -> str:
    """The key of one record: `door` plus where it came from (ints padded to 12 digits)."""
    return door + ":" + "|".join(f"{part:012d}" if isinstance(part, int) else part for part in parts)


def digest(*parts: bytes | str) -> str:
    """sha256 (hex) of a list of parts, each length-prefixed: no two different lists hash the same bytes, so
    no separator needs escaping (`a|b` + `c` and `a` + `b|c` differ)."""
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.hexdigest()


class RecordKeys:
    """Content-hash keys for the records of one request: `door:<time>|<sha256 of the parts>[#n]`.

    Repeats are found by the 64-bit hash of each key, not the key itself: a 100,000-record request holds
    100,000 small ints here (about 6 MB), not 100,000 key strings (about 18 MB)."""

    def __init__(self, door: str):
        self.door = door
        self._seen: set[int] = set()
        self._repeats: dict[int, int] = {}

    def key(self, nanos: int, *parts: bytes | str) -> str:
        """The key of a record of time `nanos` (Unix ns, 0 when it has none) identified by `parts`."""
        base = ingest_key(self.door, f"{nanos:016x}", digest(*parts)[:32])
        seen = hash(base)
        if seen not in self._seen:
            self._seen.add(seen)
            return base
        n = self._repeats.get(seen, 1)
        self._repeats[seen] = n + 1
        return f"{base}#{n}"
