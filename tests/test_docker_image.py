"""Dockerfile.training and run_training_docker.sh on a real Docker engine.

A local CPU base (docker/make_cpu_base.sh: Debian + the Makefile's torch, no registry) is cached
under a tag of its recipe. The launcher is called as a non-root user in the docker group types
it: it builds the project image and trains; that run is stopped with `docker stop` mid-epoch, and
the same command resumes it and finishes. Needs root to install and start the engine; skips
elsewhere, unless SAM2_REQUIRE_DOCKER=1 (CI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from docker_engine import MAKE_CPU_BASE, REPO, DockerEngine, cpu_base_image, docker
from helpers import (
    BIN,
    FAST_OVERRIDES,
    STEP_LINE,
    check_ok,
    last_checkpoint,
    run_command,
    wait_for_training_step,
)

from training_ext.resume.preemption import PREEMPTED_EXIT_CODE

pytestmark = [pytest.mark.slow, pytest.mark.docker]

IMAGE = "sam2-training-ext:docker-test"
CALLER = 4321  # uid and gid of the user who runs the launcher: not root, not the image's 1000
TRAIN_VIDEOS = 4
STEPS = 2 * TRAIN_VIDEOS  # the synthetic dataset's multiplier is 2
OVERRIDES = [*FAST_OVERRIDES, "trainer.logging.log_freq=1"]
DOCKER_SOCKET = Path("/var/run/docker.sock")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    engine = DockerEngine(tmp_path_factory.mktemp("dockerd"))
    reason = engine.start()
    if reason:
        if os.environ.get("SAM2_REQUIRE_DOCKER"):
            pytest.fail(f"SAM2_REQUIRE_DOCKER=1 but no Docker engine: {reason}")
        pytest.skip(f"no Docker engine: {reason}")
    yield engine
    engine.stop()


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    """A folder the caller (uid CALLER) can reach, unlike pytest's 0700 tmp root."""
    folder = Path(tempfile.mkdtemp(prefix="sam2-docker-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def caller_folder(path: Path) -> Path:
    path.mkdir()
    os.chown(path, CALLER, CALLER)
    return path


def as_caller(*command: str) -> list[str]:
    """``command`` run as uid CALLER, in the group of the Docker socket (like group docker)."""
    socket_group = str(DOCKER_SOCKET.stat().st_gid)
    ids = ["--reuid", str(CALLER), "--regid", str(CALLER), "--groups", socket_group]
    return ["setpriv", *ids, "--", *command]


def launcher(workspace: Path) -> Path:
    """This checkout's run_training_docker.sh, or a copy of the checkout where CALLER reaches it."""
    script = REPO / "run_training_docker.sh"
    if subprocess.run(as_caller("test", "-x", str(script), "-a", "-r", str(REPO))).returncode == 0:
        return script
    files = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, files):
        (workspace / "repo" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, workspace / "repo" / name)
    return workspace / "repo" / "run_training_docker.sh"


@dataclass
class Caller:
    """The launcher as the user types it: ``command`` with ``env``, from ``cwd``."""

    command: list[str]
    env: dict[str, str]
    cwd: Path

    def start(self, log: Path) -> subprocess.Popen:
        with log.open("w") as output:
            return subprocess.Popen(
                self.command, stdout=output, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd
            )

    def run(self) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command, capture_output=True, text=True, env=self.env, cwd=self.cwd, timeout=1800
        )


@dataclass
class Stop:
    """What a run stopped with `docker stop` left, and what was seen in its container."""

    exit_code: int
    log: str
    checkpoint: dict
    user_in_container: str
    write_to_data: subprocess.CompletedProcess


@dataclass
class Runs:
    """The launcher's stopped run and the resumed one."""

    output: Path
    run_dir: Path
    dataset: Path
    stop: Stop
    resumed: subprocess.CompletedProcess
    image_layers: list[str]
    base_layers: list[str]


def layers(image: str) -> list[str]:
    return json.loads(
        docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", image).stdout
    )


def retire_image() -> str | None:
    """Untag IMAGE so that the launcher builds it (its layers stay as cache): the old tag."""
    if docker("image", "inspect", IMAGE, check=False).returncode != 0:
        return None
    docker("tag", IMAGE, f"{IMAGE}-previous")
    docker("rmi", IMAGE)
    return f"{IMAGE}-previous"


def running_container(process: subprocess.Popen, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ids = docker("ps", "-q", "--filter", f"ancestor={IMAGE}").stdout.split()
        if ids:
            assert len(ids) == 1, ids
            return ids[0]
        assert process.poll() is None, "the launcher ended before its container showed"
        time.sleep(0.5)
    raise TimeoutError("no running container of the launcher")


def wait_for_step_2(run_dir: Path, process: subprocess.Popen, launcher_log: Path) -> None:
    """Wait through the image build and the start of training, until step 2 of epoch 0."""
    try:
        wait_for_training_step(run_dir / "logs" / "log.txt", 2, process, timeout=1800)
    except (AssertionError, TimeoutError) as error:
        log = launcher_log.read_text()[-4000:]
        raise AssertionError(f"{error}; the launcher said:\n{log}") from error


def remove_containers() -> None:
    for container in docker("ps", "-aq", "--filter", f"ancestor={IMAGE}").stdout.split():
        docker("rm", "-f", container, check=False)


def make_dataset(workspace: Path) -> Path:
    dataset = workspace / "data"
    check_ok(
        run_command(
            "sam2-data", "synth", "--out", dataset, "--train-videos", TRAIN_VIDEOS,
            "--val-videos", 2, "--frames", 8,
        )
    )  # fmt: skip
    return dataset


def caller(workspace: Path, dataset: Path, base: str) -> Caller:
    """The launcher run by uid CALLER on the CPU, as README's Docker section has it."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(caller_folder(workspace / "home")),
        "SAM2_DATASET": str(dataset),
        "SAM2_CHECKPOINTS": str(caller_folder(workspace / "checkpoints")),
        "SAM2_OUTPUT": str(caller_folder(workspace / "output")),
        "SAM2_CONFIG": "demo_scratch",
        "NUM_GPUS": "0",
        "SAM2_IMAGE": IMAGE,
        "SAM2_BASE_IMAGE": base,
        "SAM2_BUILD_CUDA": "0",
    }
    return Caller(as_caller(str(launcher(workspace)), *OVERRIDES), env, workspace)


def stop_mid_epoch(launch: Caller, run_dir: Path, log: Path) -> Stop:
    """Start the launcher, look into its container at step 2, then `docker stop` it."""
    process = launch.start(log)
    try:
        wait_for_step_2(run_dir, process, log)
        container = running_container(process)
        user = docker("exec", container, "id", "-u").stdout.strip()
        # as root in the container: only a read-only mount can refuse it
        write = docker("exec", "--user", "0", container, "touch", "/data/probe", check=False)
        docker("stop", "-t", "120", container, timeout=300)
        exit_code = process.wait(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
        remove_containers()
    return Stop(exit_code, log.read_text(), last_checkpoint(run_dir), user, write)


@pytest.fixture(scope="module")
def runs(engine: DockerEngine, workspace: Path) -> Runs:
    base = cpu_base_image(workspace / "make_cpu_base.log")
    dataset = make_dataset(workspace)
    launch = caller(workspace, dataset, base)
    output = Path(launch.env["SAM2_OUTPUT"])
    previous = retire_image()
    stop = stop_mid_epoch(launch, output / "demo_scratch", workspace / "stopped.log")
    try:
        resumed = launch.run()
    finally:
        remove_containers()
    if previous:
        docker("rmi", previous, check=False)  # and its layers the new image does not share
    return Runs(
        output, output / "demo_scratch", dataset, stop, resumed, layers(IMAGE), layers(base)
    )


def test_the_launcher_builds_the_missing_image_on_the_given_base(runs: Runs) -> None:
    assert "Successfully tagged " + IMAGE in runs.stop.log, runs.stop.log[-3000:]
    assert runs.image_layers[: len(runs.base_layers)] == runs.base_layers
    assert len(runs.image_layers) > len(runs.base_layers)


def test_docker_stop_mid_epoch_checkpoints_exits_3_and_the_same_command_resumes(
    runs: Runs,
) -> None:
    assert runs.stop.exit_code == PREEMPTED_EXIT_CODE, runs.stop.log[-3000:]
    assert "Stopped by SIGTERM" in runs.stop.log
    assert f"checkpoint in {runs.run_dir / 'checkpoints'};" in runs.stop.log  # the host's path
    progress = runs.stop.checkpoint["train_dataset"]
    assert progress["epoch"] == 0 and 0 < progress["batches_done"] < STEPS
    assert runs.stop.checkpoint["steps"]["train"] == progress["batches_done"]
    check_ok(runs.resumed)
    log = (runs.run_dir / "logs" / "log.txt").read_text()
    assert f"Resuming epoch 0 after its first {progress['batches_done']} batches" in log
    assert sorted(int(index) for index in STEP_LINE.findall(log)) == list(range(STEPS))


def test_the_trained_checkpoint_and_best_land_on_the_host(runs: Runs) -> None:
    final = last_checkpoint(runs.run_dir)
    assert final["epoch"] == 1 and final["steps"]["train"] == STEPS
    assert (runs.run_dir / "checkpoints" / "best.pt").stat().st_size > 0


def test_the_container_runs_as_the_caller_and_host_files_are_the_callers(runs: Runs) -> None:
    assert runs.stop.user_in_container == str(CALLER)
    written = [runs.output, *runs.output.rglob("*")]
    assert len(written) > 10
    assert {(path.stat().st_uid, path.stat().st_gid) for path in written} == {(CALLER, CALLER)}


def test_the_dataset_mount_is_read_only(runs: Runs) -> None:
    assert runs.stop.write_to_data.returncode != 0
    assert "Read-only file system" in runs.stop.write_to_data.stderr
    assert not (runs.dataset / "probe").exists()


def test_make_cpu_base_passes_shellcheck() -> None:
    result = subprocess.run(
        [str(BIN / "shellcheck"), str(MAKE_CPU_BASE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
