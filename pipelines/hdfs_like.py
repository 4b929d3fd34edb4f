"""A deterministic generator of HDFS-like log lines, for speed and memory benchmarks.

It imitates the shape of HDFS DataNode/NameNode logs (header `yymmdd HHMMSS pid LEVEL component: msg`,
block ids, addresses, sizes, paths) with a skewed template mix, so the parser sees realistic variety:
millions of distinct block ids and addresses over a few dozen message kinds. Usage:

    python pipelines/hdfs_like.py --lines 1000000 --out /tmp/hdfs_like.log
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from pathlib import Path


def _ip(rng: random.Random) -> str:
    return f"10.{rng.randint(250, 251)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _blk(rng: random.Random) -> str:
    return f"blk_{rng.choice(['', '-'])}{rng.randint(10**17, 10**19 - 1)}"


_KINDS = [
    # (weight, level, component, message factory)
    (22, "INFO", "dfs.DataNode$DataXceiver",
     lambda r: f"Receiving block {_blk(r)} src: /{_ip(r)}:{r.randint(30000, 60000)} dest: /{_ip(r)}:50010"),
    (21, "INFO", "dfs.DataNode$PacketResponder",
     lambda r: f"PacketResponder {r.randint(0, 2)} for block {_blk(r)} terminating"),
    (20, "INFO", "dfs.DataNode$PacketResponder",
     lambda r: f"Received block {_blk(r)} of size {r.choice([67108864, r.randint(1, 67108864)])} from /{_ip(r)}"),
    (20, "INFO", "dfs.FSNamesystem",
     lambda r: f"BLOCK* NameSystem.addStoredBlock: blockMap updated: {_ip(r)}:50010 is added to {_blk(r)} "
               f"size {r.randint(1, 67108864)}"),
    (4, "INFO", "dfs.FSNamesystem",
     lambda r: f"BLOCK* NameSystem.allocateBlock: /user/root/rand{r.randint(1, 9)}/_temporary/_task_200811092030_"
               f"{r.randint(1, 9999):04d}_m_{r.randint(0, 9999):06d}_0/part-{r.randint(0, 9999):05d}. {_blk(r)}"),
    (4, "INFO", "dfs.DataBlockScanner", lambda r: f"Verification succeeded for {_blk(r)}"),
    (4, "INFO", "dfs.FSDataset",
     lambda r: f"Deleting block {_blk(r)} file /mnt/hadoop/dfs/data/current/subdir{r.randint(0, 63)}/{_blk(r)}"),
    (3, "INFO", "dfs.FSNamesystem",
     lambda r: f"BLOCK* NameSystem.delete: {_blk(r)} is added to invalidSet of {_ip(r)}:50010"),
    (1, "INFO", "dfs.DataNode", lambda r: f"{_ip(r)}:50010 Served block {_blk(r)} to /{_ip(r)}"),
    (1, "WARN", "dfs.DataNode",
     lambda r: f"{_ip(r)}:50010:Got exception while serving {_blk(r)} to /{_ip(r)}:"),
    (0.3, "INFO", "dfs.DataNode$DataXceiver",
     lambda r: f"writeBlock {_blk(r)} received exception java.io.IOException: Connection reset by peer"),
    (0.2, "INFO", "dfs.DataNode$BlockReceiver", lambda r: f"Receiving empty packet for block {_blk(r)}"),
    (0.2, "INFO", "dfs.FSNamesystem",
     lambda r: f"BLOCK* ask {_ip(r)}:50010 to replicate {_blk(r)} to datanode(s) {_ip(r)}:50010"),
    (0.1, "WARN", "dfs.PendingReplicationBlocks$PendingReplicationMonitor",
     lambda r: f"PendingReplicationMonitor timed out block {_blk(r)}"),
]


def generate(n_lines: int, seed: int = 20260101) -> Iterator[str]:
    rng = random.Random(seed)
    weights = [k[0] for k in _KINDS]
    seconds = 0
    for _ in range(n_lines):
        seconds += rng.random() < 0.05
        hh, mm, ss = (seconds // 3600) % 24, (seconds // 60) % 60, seconds % 60
        _, level, component, make = rng.choices(_KINDS, weights)[0]
        pid = rng.choice([13, 19, 26, 35, 143, 145, 148, 222, 223, 561])
        yield f"081109 {hh:02d}{mm:02d}{ss:02d} {pid} {level} {component}: {make(rng)}"


def write(path: Path, n_lines: int, seed: int = 20260101) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for line in generate(n_lines, seed):
            handle.write(line)
            handle.write("\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    write(args.out, args.lines, args.seed)


if __name__ == "__main__":
    main()
