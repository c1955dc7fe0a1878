"""Handing a composed config to the stock launcher (``training.train.main``): local spawn or
submitit, as upstream runs them, with rank failures and stop signals turned into our exits."""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import signal
from collections.abc import Iterator
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig
from torch.multiprocessing import ProcessExitedException, ProcessRaisedException

from training_ext.launch.rank_errors import (
    RANK_FAILED_EXIT_CODE,
    RankFailed,
    clear_rank_errors,
    training_failed,
)
from training_ext.resume.preemption import PREEMPTED_EXIT_CODE, STOP_SIGNALS, PreemptedExit

# The composed config is stored under this name and the stock launcher composes it by name.
COMPOSED_GROUP, COMPOSED_NAME = "_sam2_train", "composed"


def hand_to_stock_launcher(cfg: DictConfig) -> None:
    """Run the stock ``training.train.main`` on ``cfg`` (it composes configs by name)."""
    import training.train as stock_train

    ConfigStore.instance().store(
        group=COMPOSED_GROUP, name=COMPOSED_NAME, node=cfg, package="_global_"
    )
    stock_args = argparse.Namespace(
        config=f"{COMPOSED_GROUP}/{COMPOSED_NAME}",
        num_gpus=None,  # already written into cfg by apply_launcher_flags
        num_nodes=None,
        use_cluster=None,
        partition=None,
        account=None,
        qos=None,
    )
    log_dir = Path(cfg.trainer.logging.log_dir)
    clear_rank_errors(log_dir)
    # torch's "Terminating process ... via signal SIGTERM" when it stops the other ranks: the
    # failed rank's line below says what happened.
    logging.getLogger("torch.multiprocessing.spawn").setLevel(logging.ERROR)
    try:
        with forwarding_stop_signals():
            stock_train.main(stock_args)
    except RankFailed as failed:  # one rank, run in this process
        raise training_failed(log_dir, failed.summary, failed.code) from None
    except ProcessExitedException as exited:  # a spawned rank left with an exit code
        if exited.exit_code == PREEMPTED_EXIT_CODE:
            raise PreemptedExit() from None  # the ranks saved and logged the stop
        code = exited.exit_code if exited.exit_code > 0 else RANK_FAILED_EXIT_CODE
        raise training_failed(log_dir, exit_code=code) from None
    except ProcessRaisedException:  # an error outside the ranks' boundary (before the Trainer)
        raise training_failed(log_dir) from None


@contextlib.contextmanager
def forwarding_stop_signals() -> Iterator[None]:
    """A stop signal sent to this process alone (``kill PID``, ``docker stop``) also reaches the
    ranks it spawned, which checkpoint and leave with code 3 (a rank run in this process installs
    its own handlers over these)."""

    def forward(signum: int, frame: object) -> None:
        for child in multiprocessing.active_children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signum)

    previous = {signum: signal.signal(signum, forward) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
