"""A real one-node SLURM cluster (Debian's slurmctld + slurmd) started and stopped by tests.

Daemons run in the foreground of their own sessions; only the processes started here are
stopped. Clients find the cluster through ``SLURM_CONF`` (see ``LocalSlurm.env``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("slurmctld", "slurmd", "sbatch", "srun", "scontrol")
GPUS = 2  # placeholder devices, so that `--gpus-per-node` requests are accepted


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing_binaries() -> list[str]:
    return [name for name in DAEMONS if shutil.which(name) is None]


class LocalSlurm:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.node = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        self.processes: list[subprocess.Popen] = []

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def write_config(self) -> None:
        for folder in ("state", "spool", "log"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        devices = [self.root / f"gpu{index}" for index in range(GPUS)]
        for device in devices:
            device.touch()
        user = os.environ.get("USER") or subprocess.check_output(["id", "-un"], text=True).strip()
        self.conf.write_text(
            f"""ClusterName=sam2test
SlurmctldHost={self.node}(127.0.0.1)
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
SlurmdSpoolDir={self.root}/spool
SlurmctldPidFile={self.root}/slurmctld.pid
SlurmdPidFile={self.root}/slurmd.pid
SlurmctldLogFile={self.root}/log/slurmctld.log
SlurmdLogFile={self.root}/log/slurmd.log
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
SchedulerParameters=sched_interval=2,bf_interval=2
KillWait=5
ReturnToService=2
GresTypes=gpu
SlurmdParameters=config_overrides
NodeName={self.node} NodeAddr=127.0.0.1 CPUs=8 RealMemory=8000 Gres=gpu:{GPUS} State=UNKNOWN
PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
"""
        )
        files = ",".join(str(device) for device in devices)
        (self.root / "gres.conf").write_text(f"NodeName={self.node} Name=gpu File={files}\n")

    def start(self, timeout: float = 60) -> None:
        self.write_config()
        for daemon in ("slurmctld", "slurmd"):
            log = open(self.root / "log" / f"{daemon}.out", "wb")  # noqa: SIM115 (lives with it)
            self.processes.append(
                subprocess.Popen(
                    [daemon, "-D", "-f", str(self.conf)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, **self.env},
                )
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.scontrol("show", "node", self.node, check=False)
            if "State=IDLE" in state:
                return
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args[0]} exited: see {self.root / 'log'}")
            time.sleep(0.3)
        raise TimeoutError(f"SLURM node not idle after {timeout} s: see {self.root / 'log'}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def scontrol(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            ["scontrol", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            timeout=30,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"scontrol {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

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
