"""Real SLURM clusters (Debian's slurmctld + slurmd) started and stopped by tests.

``LocalSlurm``: one node, the machine itself. ``TwoNodeSlurm``: two nodes on this machine, each
slurmd in a network + UTS + mount namespace of its own (root only). Daemons run in the foreground
of their own sessions; only what is started here is stopped. Clients find the cluster through
``SLURM_CONF`` (``env``) and run where they reach slurmctld (``client``).
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import BIN, FAST_OVERRIDES, check_ok

DAEMONS = ("slurmctld", "slurmd", "sbatch", "srun", "scontrol", "squeue", "scancel")
NAMESPACE_TOOLS = ("ip", "nsenter", "unshare", "mount")
GPUS = 2  # placeholder devices per node, so that `--gpus-per-node` requests are accepted
SUBMIT = Path(__file__).resolve().parents[1] / "slurm" / "submit.sh"
STOP_TIMEOUT = 20  # seconds from SIGTERM to SIGKILL
_instances = itertools.count()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing_binaries() -> list[str]:
    return [name for name in DAEMONS if shutil.which(name) is None]


class LocalSlurm:
    """One node: this machine, at 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slurm.conf"
        self.processes: list[subprocess.Popen] = []
        self.nodes = {socket.gethostname().split(".")[0]: "127.0.0.1"}  # name: address

    @classmethod
    def unavailable(cls) -> str | None:
        """Why this cluster cannot run here, or None."""
        missing = missing_binaries()
        if missing:
            return f"SLURM not installed ({', '.join(missing)}): apt-get install slurmctld slurmd"
        return None

    @property
    def controller(self) -> str:
        return next(iter(self.nodes))

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def client(self, *command: str) -> list[str]:
        """``command`` run where slurmctld is reachable (here: anywhere)."""
        return list(command)

    def write_config(self) -> None:
        for folder in ("state", "log", *(f"spool/{node}" for node in self.nodes)):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        devices = [self.root / f"gpu{index}" for index in range(GPUS)]
        for device in devices:
            device.touch()
        user = os.environ.get("USER") or subprocess.check_output(["id", "-un"], text=True).strip()
        self.conf.write_text(
            f"""ClusterName=sam2test
SlurmctldHost={self.controller}({self.nodes[self.controller]})
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/none
AuthInfo=cred_expire=10
CredType=cred/none
SlurmUser={user}
SlurmdUser={user}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation={self.root}/state
SlurmdSpoolDir={self.root}/spool/%n
SlurmctldPidFile={self.root}/slurmctld.pid
SlurmdPidFile={self.root}/slurmd-%n.pid
SlurmctldLogFile={self.root}/log/slurmctld.log
SlurmdLogFile={self.root}/log/slurmd-%n.log
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
SchedulerParameters=sched_interval=2,bf_interval=2
KillWait=5
ReturnToService=2
GresTypes=gpu
SlurmdParameters=config_overrides
{self.node_lines()}"""
        )
        files = ",".join(str(device) for device in devices)
        (self.root / "gres.conf").write_text(
            "".join(f"NodeName={node} Name=gpu File={files}\n" for node in self.nodes)
        )

    def node_lines(self) -> str:
        """slurm.conf's nodes (8 CPUs each, more than there are) and their partition."""
        lines = [
            f"NodeName={node} NodeAddr={address} NodeHostname={node} CPUs=8 RealMemory=8000 "
            f"Gres=gpu:{GPUS} State=UNKNOWN"
            for node, address in self.nodes.items()
        ]
        nodes = ",".join(self.nodes)
        lines.append(f"PartitionName=debug Nodes={nodes} Default=YES MaxTime=INFINITE State=UP")
        return "\n".join(lines) + "\n"

    def daemon_command(self, daemon: str, node: str) -> list[str]:
        """The foreground command of ``daemon`` for ``node``."""
        command = [daemon, "-D", "-f", str(self.conf)]
        return [*command, "-N", node] if daemon == "slurmd" else command

    def setup(self) -> None:
        """What the daemons need besides their config (nothing here)."""

    def teardown(self) -> None:
        """Undo ``setup``."""

    def start(self, timeout: float = 60) -> None:
        self.write_config()
        self.setup()
        daemons = [("slurmctld", self.controller), *(("slurmd", node) for node in self.nodes)]
        for daemon, node in daemons:
            log = open(self.root / "log" / f"{daemon}-{node}.out", "wb")  # noqa: SIM115 (lives with it)
            self.processes.append(
                subprocess.Popen(
                    self.daemon_command(daemon, node),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, **self.env},
                )
            )
        self.wait_until_idle(timeout)

    def wait_until_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.scontrol("show", "nodes", check=False)
            if state.count("State=IDLE") == len(self.nodes):
                return
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args[0]} exited: see {self.root / 'log'}")
            time.sleep(0.3)
        raise TimeoutError(f"SLURM nodes not idle after {timeout} s: see {self.root / 'log'}")

    def stop(self) -> None:
        """Cancel the jobs still queued or running, stop the daemons, then ``teardown``."""
        try:
            self.cancel_jobs()
        finally:
            self.stop_daemons()
            self.teardown()

    def cancel_jobs(self, timeout: float = 30) -> None:
        if not self.processes or self.processes[0].poll() is not None:
            return  # no slurmctld to ask
        jobs = self.run_client("squeue", "-h", "-o", "%i", check=False).split()
        if jobs:
            self.run_client("scancel", *jobs, check=False)
        deadline = time.monotonic() + timeout
        while jobs and time.monotonic() < deadline:
            jobs = self.run_client("squeue", "-h", "-o", "%i", check=False).split()
            time.sleep(0.5)

    def stop_daemons(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def run_client(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            self.client(*args),
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            timeout=30,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def scontrol(self, *args: str, check: bool = True) -> str:
        return self.run_client("scontrol", *args, check=check)

    def job(self, job_id: str) -> dict[str, str]:
        """``scontrol show job`` as a dict (JobState, Restarts, ExitCode, ...)."""
        text = self.scontrol("show", "job", job_id)
        return dict(item.split("=", 1) for item in text.split() if "=" in item)

    def wait_for_job(self, job_id: str, timeout: float = 600) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["JobState"] in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"):
                return job
            time.sleep(0.5)
        raise TimeoutError(f"job {job_id} still {self.job(job_id)['JobState']} after {timeout} s")


class TwoNodeSlurm(LocalSlurm):
    """Nodes node1 and node2 (198.18.0.1/.2, a benchmarking range), one network namespace
    each, joined by a bridge in a third; nothing is routed to or from the host. slurmctld runs
    in node1's namespace, and so do the clients (``client``), like on a login node."""

    SUBNET = "198.18.0"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.nodes = {f"node{index}": f"{self.SUBNET}.{index}" for index in (1, 2)}
        prefix = f"sam2-{os.getpid()}-{next(_instances)}"
        self.namespaces = {node: f"{prefix}-{node}" for node in self.nodes}
        self.bridge = f"{prefix}-bridge"
        self.created: list[str] = []  # network namespaces made by setup
        self.hosts = root / "hosts"

    @classmethod
    def unavailable(cls) -> str | None:
        if os.geteuid() != 0:
            return "two SLURM nodes on one machine need root (network namespaces)"
        missing = [tool for tool in NAMESPACE_TOOLS if shutil.which(tool) is None]
        if missing:
            return f"{', '.join(missing)} not found: apt-get install iproute2 util-linux"
        return super().unavailable()

    def client(self, *command: str) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.namespaces[self.controller]}", *command]

    def daemon_command(self, daemon: str, node: str) -> list[str]:
        """In ``node``'s network namespace, with its own hostname and /etc/hosts (a private
        bind mount). Not `ip netns exec`: its remount of /sys hides the cgroup tree slurmd
        needs."""
        script = 'mount --bind "$0" /etc/hosts && hostname "$1" && shift && exec "$@"'
        return [
            "nsenter", f"--net=/run/netns/{self.namespaces[node]}",
            "unshare", "--mount", "--uts", "--propagation", "private",
            "sh", "-c", script, str(self.hosts), node,
            *super().daemon_command(daemon, node),
        ]  # fmt: skip

    def setup(self) -> None:
        self.hosts.write_text(
            "127.0.0.1 localhost\n"
            + "".join(f"{address} {node}\n" for node, address in self.nodes.items())
        )
        self.add_namespace(self.bridge)
        self.ip(self.bridge, "link", "add", "br0", "type", "bridge")
        self.ip(self.bridge, "link", "set", "br0", "up")
        for index, (node, address) in enumerate(self.nodes.items()):
            namespace = self.namespaces[node]
            self.add_namespace(namespace)
            veth = f"veth{index}"
            self.ip(self.bridge, "link", "add", veth, "type", "veth", "peer", "name", "eth0",
                    "netns", namespace)  # fmt: skip
            self.ip(self.bridge, "link", "set", veth, "master", "br0", "up")
            self.ip(namespace, "addr", "add", f"{address}/24", "dev", "eth0")
            self.ip(namespace, "link", "set", "eth0", "up")

    def add_namespace(self, name: str) -> None:
        check_ok(subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True))
        self.created.append(name)
        self.ip(name, "link", "set", "lo", "up")

    @staticmethod
    def ip(namespace: str, *args: str) -> None:
        check_ok(subprocess.run(["ip", "-n", namespace, *args], capture_output=True, text=True))

    def teardown(self) -> None:
        """Delete the namespaces made here (the bind mounts die with the daemons' namespaces)."""
        while self.created:
            subprocess.run(["ip", "netns", "del", self.created.pop()], capture_output=True)


@contextmanager
def running(cluster: LocalSlurm) -> Iterator[LocalSlurm]:
    """``cluster`` started, and stopped at the end even if starting failed half-way."""
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def job_env(slurm: LocalSlurm, run_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of `slurm/submit.sh` for a short CPU job writing ``run_dir``; the job's
    output goes to ``run_dir``'s parent / job.out."""
    return {
        **os.environ,
        **slurm.env,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "CPUS_PER_TASK": "1",
        "TIME": "30",
        "SAM2_OUTPUT": str(run_dir),
        "SBATCH_EXTRA": f"--output={run_dir.parent / 'job.out'}",
        **extra,
    }


def submit(slurm: LocalSlurm, env: dict[str, str], data: Path, *overrides: str) -> str:
    """`slurm/submit.sh dataset.root=DATA ...` (one epoch of the demo); returns the job id."""
    command = slurm.client(str(SUBMIT), f"dataset.root={data}", *FAST_OVERRIDES, *overrides)
    result = check_ok(subprocess.run(command, capture_output=True, text=True, env=env, timeout=120))
    return result.stdout.split()[-1]  # "Submitted batch job <id>"


def require(cluster_class: type[LocalSlurm]) -> None:
    """Skip when ``cluster_class`` cannot run here; fail instead with SAM2_REQUIRE_SLURM=1 (CI)."""
    reason = cluster_class.unavailable()
    if reason and os.environ.get("SAM2_REQUIRE_SLURM"):
        pytest.fail(reason)
    if reason:
        pytest.skip(reason)
