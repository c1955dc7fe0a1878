"""slurm/submit.sh with NUM_NODES=2 on a real two-node SLURM cluster (``TwoNodeSlurm``: two
slurmd in namespaces of this machine): ranks on both nodes, the rendezvous on the first,
preemption across nodes, a crashed rank. Root only; CPU ranks over gloo."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import STEPS_PER_EPOCH, check_ok, last_checkpoint, wait_for_training_step
from slurm_cluster import TwoNodeSlurm, job_env, require, running, submit

from training_ext.runs.tensorboard_logs import read_step_losses

pytestmark = pytest.mark.slow  # trains: not in the quick subset


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> TwoNodeSlurm:
    require(TwoNodeSlurm)
    with running(TwoNodeSlurm(tmp_path_factory.mktemp("slurm2"))) as cluster:
        yield cluster


def two_node_env(cluster: TwoNodeSlurm, run_dir: Path, **extra: str) -> dict[str, str]:
    """`submit.sh`'s environment for NUM_NODES=2; one thread per rank, as both "nodes" share
    this machine's cores (each rank would otherwise take them all)."""
    return job_env(cluster, run_dir, NUM_NODES="2", OMP_NUM_THREADS="1", **extra)


def assert_ranks_on_both_nodes(output: str, run_dir: Path, tasks_per_node: int) -> None:
    """Every rank ran (ranks in node order), and the rendezvous was node1's address."""
    world = 2 * tasks_per_node
    assert f"{world} tasks on 2 node(s), rendezvous node1:" in output, output[-3000:]
    for rank in range(world):
        node = f"node{1 + rank // tasks_per_node}"
        assert f"train.sbatch: rank {rank} of {world} on {node}" in output, output[-3000:]
    log = (run_dir / "logs" / "log.txt").read_text()  # rank 0's environment, logged by it
    for line in (f"WORLD_SIZE={world}", "MASTER_ADDR=node1", "SLURMD_NODENAME=node1"):
        assert re.search(rf"^{line}$", log, re.M), line


def check_cross_node_preemption(cluster: TwoNodeSlurm, data: Path, folder: Path) -> None:
    """2 nodes x 1 task, SIGTERM to the tasks mid-epoch (what SLURM's preemption sends: every
    step but the batch one, so not srun): both ranks checkpoint, the job requeues itself,
    resumes at that step and completes; each step is trained exactly once. Raises
    AssertionError otherwise."""
    run_dir = folder / "run"
    env = two_node_env(cluster, run_dir, NUM_GPUS="1")
    job_id = submit(cluster, env, data, "validation=none", "trainer.logging.log_freq=1")
    wait_for_training_step(run_dir / "logs" / "log.txt", 3)
    signalled = cluster.client("scancel", "--signal=TERM", job_id)
    check_ok(subprocess.run(signalled, env=env, capture_output=True, text=True))
    job = cluster.wait_for_job(job_id)
    output = (folder / "job.out").read_text()
    assert job["JobState"] == "COMPLETED", output[-3000:]
    assert job["Restarts"] == "1", output[-3000:]
    assert "requeueing job" in output and "(restart 1)" in output, output[-3000:]
    assert_ranks_on_both_nodes(output, run_dir, tasks_per_node=1)
    steps = STEPS_PER_EPOCH // 2
    log = (run_dir / "logs" / "log.txt").read_text()
    saved = int(re.search(r"Saved checkpoint at epoch 0 after batch (\d+)", log).group(1))
    assert 4 <= saved < steps, saved
    assert f"Resuming epoch 0 after its first {saved} batches" in log
    assert last_checkpoint(run_dir)["steps"]["train"] == steps
    assert list(read_step_losses(run_dir / "tensorboard").step) == list(range(steps))


def test_two_nodes_x_one_task_preempted_mid_epoch_requeue_and_resume(
    two_nodes: TwoNodeSlurm, synthetic_root: Path, tmp_path: Path
) -> None:
    check_cross_node_preemption(two_nodes, synthetic_root, tmp_path)


def test_two_nodes_x_two_cpu_tasks_train_with_world_size_4(
    two_nodes: TwoNodeSlurm, synthetic_root: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    env = two_node_env(two_nodes, run_dir, NUM_GPUS="0", TASKS_PER_NODE="2")
    job = two_nodes.wait_for_job(submit(two_nodes, env, synthetic_root, "validation=none"))
    output = (tmp_path / "job.out").read_text()
    assert job["JobState"] == "COMPLETED", output[-3000:]
    assert_ranks_on_both_nodes(output, run_dir, tasks_per_node=2)
    assert last_checkpoint(run_dir)["steps"]["train"] == STEPS_PER_EPOCH // 4  # each rank 1/4


def rank_process(job_id: str, rank: int) -> int:
    """PID of the `sam2-train` process of ``rank`` in job ``job_id`` (all nodes share this
    machine's process table)."""
    wanted = {f"SLURM_JOB_ID={job_id}".encode(), f"RANK={rank}".encode()}
    for entry in sorted(Path("/proc").iterdir(), key=lambda path: path.name.zfill(10)):
        try:
            environment = set((entry / "environ").read_bytes().split(b"\0"))
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if wanted <= environment and b"--external-launcher" in command:
            return int(entry.name)
    raise LookupError(f"no rank {rank} of job {job_id}")


def test_rank_killed_on_the_second_node_fails_the_job_without_requeue(
    two_nodes: TwoNodeSlurm, synthetic_root: Path, tmp_path: Path
) -> None:
    """SIGKILL (the OOM killer's way) to rank 1 on node2 mid-epoch: rank 0 on node1 must not
    wait for it forever, and the job fails instead of requeueing."""
    run_dir = tmp_path / "run"
    env = two_node_env(two_nodes, run_dir, NUM_GPUS="1")
    job_id = submit(two_nodes, env, synthetic_root, "validation=none", "trainer.logging.log_freq=1")
    wait_for_training_step(run_dir / "logs" / "log.txt", 3)
    os.kill(rank_process(job_id, 1), signal.SIGKILL)
    killed = time.monotonic()
    job = two_nodes.wait_for_job(job_id, timeout=120)
    output = (tmp_path / "job.out").read_text()
    assert job["JobState"] == "FAILED", output[-3000:]
    assert job["Restarts"] == "0" and "requeueing" not in output, output[-3000:]
    assert not job["ExitCode"].startswith(("0:", "3:")), job["ExitCode"]
    # rank 0 noticed (gloo: connection closed by peer) and exited by itself, not at the end of
    # srun's TASK_EXIT_GRACE (60 s)
    assert "node1: task 0: Exited with exit code 1" in output, output[-3000:]
    assert time.monotonic() - killed < 60, "the surviving rank hung"
