"""``make bench``: time the lab's life cycle and print a table of medians.

Rows: the first image build (debootstrap into a scratch cache, so the real cache
is untouched), 'lab up' of 3 hosts from the cached image, and 'lab down'.
Targets are printed beside the measurements; nothing here fails a test run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{proc.stderr}")
    return elapsed


def lab_is_up() -> bool:
    proc = subprocess.run([str(BIN / "redisops"), "lab", "status", "--json"], capture_output=True, text=True)
    return proc.stdout.strip() not in ("", "[]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of lab up/down (default 5)")
    parser.add_argument(
        "--skip-image", action="store_true", help="skip the cold image build (about a minute)"
    )
    args = parser.parse_args(argv)
    if lab_is_up():
        sys.exit("bench: a lab is up; the benchmark takes it up and down: run 'redisops lab down' first")

    redisops = str(BIN / "redisops")
    rows: list[tuple[str, list[float], str]] = []
    if not args.skip_image:
        scratch = tempfile.mkdtemp(prefix="redisops-bench-cache-")
        try:
            env = {**os.environ, "REDISOPS_LAB_CACHE": scratch}
            build = timed([redisops, "lab", "image", "--image", "bookworm"], env)
            rows.append(("first image build (debootstrap, bookworm)", [build], "once per package list"))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    # Warm the real cache so 'lab up' measures booting, not building.
    timed([redisops, "lab", "up"])
    timed([redisops, "lab", "down"])
    ups, downs = [], []
    for _ in range(args.runs):
        ups.append(timed([redisops, "lab", "up", "--hosts", "3"]))
        downs.append(timed([redisops, "lab", "down"]))
    rows.append(("lab up, 3 hosts, cached image", ups, "< 30 s"))
    rows.append(("lab down, 3 hosts", downs, "-"))

    print(f"\n{'measurement':<44} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7}  target")
    print("-" * 90)
    for name, samples, target in rows:
        print(
            f"{name:<44} {len(samples):>4} {statistics.median(samples):>9.2f} "
            f"{min(samples):>7.2f} {max(samples):>7.2f}  {target}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
