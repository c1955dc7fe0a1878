"""A real Docker engine for the tests: use the running one, or install Debian's docker.io and
start dockerd by hand (no systemd here), stopping at the end only a daemon started here. Also the
local CPU base image (docker/make_cpu_base.sh), cached under a tag derived from its recipe."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAKE_CPU_BASE = REPO / "docker" / "make_cpu_base.sh"
APT_PACKAGES = ("docker.io", "debootstrap")
# https in containers goes through this machine's intercepting proxy: trust the host's CA bundle.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def docker(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Run the docker client (the one on PATH, as run_training_docker.sh does)."""
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: exit {result.returncode}\n{result.stderr}")
    return result


def engine_answers() -> bool:
    return (
        shutil.which("docker") is not None
        and docker("info", timeout=30, check=False).returncode == 0
    )


def missing_tools() -> list[str]:
    return [tool for tool in ("docker", "dockerd", "debootstrap") if shutil.which(tool) is None]


def apt_get(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *args], capture_output=True, text=True, env=env, timeout=900)


def install_engine() -> str | None:
    """apt-get install docker.io debootstrap; the reason it cannot, or None."""
    if os.geteuid() != 0:
        return "not root: cannot install docker.io / start dockerd"
    if shutil.which("apt-get") is None:
        return "no apt-get to install docker.io"
    result = apt_get("install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES)
    if result.returncode != 0:  # stale package lists
        apt_get("update", "-q")
        result = apt_get("install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES)
    if missing_tools():
        return f"apt-get install {' '.join(APT_PACKAGES)} failed: {result.stderr.strip()[-500:]}"
    return None


class DockerEngine:
    """The running engine, or dockerd started by ``start`` (and stopped by ``stop``)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> str | None:
        """Make an engine answer; the reason it cannot, or None."""
        if engine_answers():
            return None
        if missing_tools():
            reason = install_engine()
            if reason:
                return reason
        if os.geteuid() != 0:
            return "no Docker engine runs and only root can start dockerd here"
        log = (self.workdir / "dockerd.log").open("w")
        self.process = subprocess.Popen(
            ["dockerd", "--storage-driver=overlay2"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self.wait_until_ready()

    def wait_until_ready(self, timeout: float = 60) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if engine_answers():
                return None
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        return f"dockerd did not come up: {(self.workdir / 'dockerd.log').read_text()[-1500:]}"

    def stop(self) -> None:
        """SIGTERM to the dockerd started here (its containerd goes with it); nothing otherwise."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def pip_config() -> dict[str, str]:
    """``pip config list`` of this venv, keyed like ``global.find-links``."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "pip"), "config", "list"],
        capture_output=True,
        text=True,
        check=True,
    )
    pairs = (line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return {key.split(".", 1)[-1]: value.strip("'\"") for key, value in pairs}


def local_package_folders(config: dict[str, str]) -> list[str]:
    """Host folders behind the local wheel indexes and find-links of ``config``."""
    folders = []
    for key in ("find-links", "extra-index-url", "index-url"):
        for location in config.get(key, "").split():
            path = Path(location.removeprefix("file://"))
            if location.startswith("file://") and path.name == "simple":
                path = path.parent  # an index's links point to ../../files
            if path.is_absolute() and path.is_dir() and str(path) not in folders:
                folders.append(str(path))
    return folders


def cpu_base_env() -> dict[str, str]:
    """The make_cpu_base.sh environment: this machine's local wheels, its proxy's CA bundle."""
    config = pip_config()
    env = {key: value for key, value in os.environ.items() if key != "TORCH_PACKAGES"}
    env["SAM2_PIP_BIND"] = " ".join(local_package_folders(config))
    for key in ("extra-index-url", "find-links"):
        if key in config:
            env[f"PIP_{key.upper().replace('-', '_')}"] = config[key]
    if HOST_CA_BUNDLE.exists():
        env["SAM2_PIP_CERT"] = str(HOST_CA_BUNDLE)
    env["SAM2_BASE_TMPFS"] = "1" if available_memory_gib() >= 12 else "0"
    return env


def available_memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def cpu_base_tag(env: dict[str, str]) -> str:
    """``sam2-test-base:<hash>`` of the recipe: the script (its default torch is ``make``'s) and the
    CA bundle."""
    recipe = hashlib.sha256(MAKE_CPU_BASE.read_bytes())
    if "SAM2_PIP_CERT" in env:
        recipe.update(Path(env["SAM2_PIP_CERT"]).read_bytes())
    return f"sam2-test-base:{recipe.hexdigest()[:12]}"


def cpu_base_image(log: Path) -> str:
    """The cached local CPU base, built by docker/make_cpu_base.sh when its tag is missing."""
    env = cpu_base_env()
    tag = cpu_base_tag(env)
    if docker("image", "inspect", tag, check=False).returncode == 0:
        return tag
    with log.open("w") as output:
        result = subprocess.run(
            [str(MAKE_CPU_BASE), tag],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=1800,
        )
    if result.returncode != 0:
        raise RuntimeError(f"{MAKE_CPU_BASE} {tag}: exit {result.returncode}\n{log.read_text()}")
    return tag
