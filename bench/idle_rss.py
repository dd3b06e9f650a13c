"""Benchmark: resident memory of each service process once started and idle (children included).

    uv run python bench/idle_rss.py [--settle 15]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from aplypro_local.stack import SERVICES, LocalStack


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        for child in map(int, text):
            found += [child, *children(child)]
    return found


def main(settle: float) -> None:
    with tempfile.TemporaryDirectory(prefix="aplyrss-") as tmp:
        stack = LocalStack(Path(tmp))
        stack.start_servers()
        stack.start_all()
        try:
            time.sleep(settle)
            print(f"{'service':<12} {'main_MiB':>9} {'with_children_MiB':>18}")
            for service in SERVICES:
                pid = stack.processes[service].pid
                main_kib = rss_kib(pid)
                total = main_kib + sum(rss_kib(c) for c in children(pid))
                print(f"{service:<12} {main_kib / 1024:>9.1f} {total / 1024:>18.1f}")
        finally:
            stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=15.0, help="seconds to wait before measuring")
    main(parser.parse_args().settle)
