#!/usr/bin/env python3
"""Holds one track plus one untrack to an instruction budget, counted by callgrind (stdlib only).

The criterion benchmark's time moves by more than a tenth from run to run on a busy machine; the
instruction count of the same loop body does not, so this is the check that fails when the
tracker's hot path grows. It builds sim/examples/track_untrack.rs (the `tracker/track_untrack`
benchmark's loop body, with one request left out under the same cancel ID), runs it under
callgrind counting only its `round` function, and divides by the rounds.

Usage:
  .ci/tracker-instructions.py              check the tracker; exit 1 if over budget
  .ci/tracker-instructions.py --self-test  also run the example with a hash-map insert and remove
                                           under each acquisition (what the table did before it was
                                           a slab) and require the budget to reject it
"""

from __future__ import annotations

import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "target" / "release" / "examples" / "track_untrack"
ROUNDS = 1000
# Instructions for one track and one untrack, both lock acquisitions included. docs/architecture.md
# gives the count this budget is set above; raise it only with a measured reason written there.
BUDGET = 230


def instructions_per_round(*extra: str) -> float:
    """Runs the example under callgrind and returns the instructions counted per round."""
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={scratch}/callgrind.out",
                "--toggle-collect=*track_untrack::round*",
                str(EXAMPLE),
                str(ROUNDS),
                *extra,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        sys.exit(f"tracker-instructions: the example failed under callgrind:\n{result.stderr}")
    found = re.search(r"Collected : (\d+)", result.stderr)
    if not found:
        sys.exit(f"tracker-instructions: no 'Collected' line from callgrind:\n{result.stderr}")
    return int(found.group(1)) / ROUNDS


def within_budget(per_round: float) -> bool:
    return per_round <= BUDGET


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--self-test", action="store_true", help="also run the negative control")
    args = parser.parse_args()
    subprocess.run(
        ["cargo", "build", "-q", "--release", "-p", "ferrofilter-sim", "--example", "track_untrack"],
        cwd=ROOT,
        check=True,
    )
    per_round = instructions_per_round()
    print(f"track + untrack: {per_round:.0f} instructions (budget {BUDGET})")
    failed = not within_budget(per_round)
    if failed:
        print(f"tracker-instructions: {per_round:.0f} instructions is over the budget of {BUDGET}")
    if args.self_test:
        slower = instructions_per_round("--with-hash-map")
        caught = not within_budget(slower)
        verdict = "rejected" if caught else "NOT rejected"
        print(f"negative control, a hash-map operation each way: {slower:.0f} instructions, {verdict}")
        if slower <= per_round:
            print("tracker-instructions: the negative control did not count its extra work")
            failed = True
        failed = failed or not caught
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
