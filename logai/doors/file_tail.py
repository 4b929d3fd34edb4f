"""Following a log file like `tail -F`: across rotation and truncation, resuming where it stopped.

Only complete lines are returned; a line still being written waits for its newline. Each line comes with
a stable identity (inode, byte offset), which makes a stored line's ingest key unique across restarts.
Positions are saved by `commit()` (atomic JSON file), after the caller has stored what it read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from logai.parsing.state import write_atomic


@dataclass
class TailedLine:
    inode: int
    offset: int
    data: bytes
    number: int = 0  # 1-based line number in its file


class FileTail:
    def __init__(self, path: Path, offsets_file: Path | None = None, chunk_bytes: int = 1 << 20):
        self.path = Path(path)
        self.offsets_file = offsets_file
        self.chunk_bytes = chunk_bytes
        self._handle: BinaryIO | None = None
        self._inode: int | None = None
        self._position = 0  # byte offset just after the last complete line returned
        self._line = 0  # lines before `_position`
        self.more = False  # the last read stopped at its limit with complete lines left to read
        saved = self._load().get(str(self.path.resolve()))
        if saved:
            self._inode, self._position = int(saved["inode"]), int(saved["offset"])
            self._line = int(saved["line"]) if "line" in saved else self._count_lines()

    def _count_lines(self) -> int:
        """Lines before the saved position (offsets saved before line numbers were), if the file is still there."""
        try:
            with self.path.open("rb") as handle:
                if os.fstat(handle.fileno()).st_ino != self._inode:
                    return 0
                count, left = 0, self._position
                while left > 0 and (block := handle.read(min(left, 1 << 20))):
                    count += block.count(b"\n")
                    left -= len(block)
                return count
        except OSError:
            return 0

    def _load(self) -> dict:
        if self.offsets_file is None or not self.offsets_file.exists():
            return {}
        try:
            return orjson.loads(self.offsets_file.read_bytes())
        except orjson.JSONDecodeError:
            return {}

    def commit(self) -> None:
        """Remember the position after the lines returned so far."""
        if self.offsets_file is None or self._inode is None:
            return
        offsets = self._load()
        offsets[str(self.path.resolve())] = {"inode": self._inode, "offset": self._position, "line": self._line}
        write_atomic(self.offsets_file, orjson.dumps(offsets))

    def _open_current(self) -> bool:
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return False
        inode = os.fstat(handle.fileno()).st_ino
        if self._inode is not None and inode != self._inode:
            self._position = self._line = 0  # a new file: rotation
        self._inode = inode
        self._handle = handle
        return True

    def read(self, max_lines: int = 5000) -> list[TailedLine]:
        """Complete lines written since the last call (at most `max_lines`)."""
        lines = self._read_open_file(max_lines)
        if len(lines) < max_lines and self._rotated() and self._handle is not None:
            self._handle.close()
            self._handle = None
            if self._open_current():
                lines += self._read_open_file(max_lines - len(lines))
        return lines

    def _rotated(self) -> bool:
        try:
            return os.stat(self.path).st_ino != self._inode
        except FileNotFoundError:
            return False

    def _read_open_file(self, max_lines: int) -> list[TailedLine]:
        if self._handle is None and not self._open_current():
            return []
        handle = self._handle
        assert handle is not None and self._inode is not None
        size = os.fstat(handle.fileno()).st_size
        if size < self._position:  # truncated in place: start over
            self._position = self._line = 0
        handle.seek(self._position)
        data = handle.read(self.chunk_bytes)
        out: list[TailedLine] = []
        start = 0
        while len(out) < max_lines:
            end = data.find(b"\n", start)
            if end < 0:
                break
            line = data[start:end]
            out.append(TailedLine(self._inode, self._position + start, line[:-1] if line.endswith(b"\r") else line,
                                  self._line + len(out) + 1))
            start = end + 1
        if not out and len(data) == self.chunk_bytes:  # one line longer than a chunk: take it whole
            out.append(TailedLine(self._inode, self._position, data, self._line + 1))
            start = len(data)
        self._position += start
        self._line += len(out)
        self.more = data.find(b"\n", start) >= 0 or len(data) == self.chunk_bytes
        return out

    def unread(self, line: TailedLine) -> bool:
        """Read again from `line`, one of the last read's, if it is in the current file (False if not): a caller
        holds back a record that the read's limit may have cut."""
        if line.inode != self._inode or line.offset >= self._position:
            return False
        self._position, self._line = line.offset, line.number - 1
        return True

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
