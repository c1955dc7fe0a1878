"""Repeat the cross-node preemption cycle of tests/test_slurm_two_nodes.py N times.

Each run starts a fresh two-node SLURM cluster (``TwoNodeSlurm``: two slurmd in namespaces of
this machine; root only), submits 2 nodes x 1 task with slurm/submit.sh, sends SIGTERM to the
tasks mid-epoch (what preemption sends) and checks: both ranks checkpoint, the job requeues
itself, resumes at that step and completes, each step trained once. Prints "K of N passed".

    sudo .venv/bin/python benchmarks/slurm_cross_node_preemption.py [--runs 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers import synthetic_dataset  # noqa: E402
from slurm_cluster import TwoNodeSlurm, running  # noqa: E402
from test_slurm_two_nodes import check_cross_node_preemption  # noqa: E402


def one_run(data: Path, folder: Path) -> str | None:
    """One cycle on a fresh cluster; the reason it failed, or None."""
    try:
        with running(TwoNodeSlurm(folder / "slurm")) as cluster:
            check_cross_node_preemption(cluster, data, folder)
    except Exception as error:  # noqa: BLE001 (reported, then the next run)
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    reason = TwoNodeSlurm.unavailable()
    if reason:
        raise SystemExit(reason)
    passed = 0
    with tempfile.TemporaryDirectory() as tmp:
        data = synthetic_dataset(Path(tmp) / "data")
        for run in range(1, args.runs + 1):
            folder = Path(tmp) / f"run{run}"
            folder.mkdir()
            start = time.monotonic()
            failure = one_run(data, folder)
            seconds = time.monotonic() - start
            passed += failure is None
            print(f"run {run}: {'passed' if failure is None else 'FAILED'} in {seconds:.0f} s")
            if failure:
                output = folder / "job.out"
                print(failure, output.read_text()[-3000:] if output.exists() else "", sep="\n")
    print(f"{passed} of {args.runs} passed")
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
