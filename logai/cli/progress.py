"""A progress bar over a file as it is read, for commands that read a file once (`parse`, `analyze`).

tqdm is imported only when a bar is shown: it is a tenth of a command's start-up.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO


def read_with_progress(handle: BinaryIO, path: Path, desc: str, stack: ExitStack) -> Iterator[bytes]:
    """`handle`'s lines, advancing a byte-counting bar on stderr that `stack` closes."""
    from tqdm import tqdm

    bar = stack.enter_context(tqdm(total=os.path.getsize(path), unit="B", unit_scale=True, desc=desc,
                                   file=sys.stderr))

    def lines() -> Iterator[bytes]:
        for raw in handle:
            bar.update(len(raw))
            yield raw

    return lines()


def wants_progress(progress: bool | None) -> bool:
    """The `--progress/--no-progress` choice, by default: a bar when stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else progress
