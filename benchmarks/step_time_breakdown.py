"""Where a training step's time goes: the model, loss and data of a config, one CPU thread.

    .venv/bin/python benchmarks/step_time_breakdown.py --config pretrain_synthetic \\
        --data data/pretrain [--steps 40] [override ...]

Prints the mean per-step time of forward, loss, backward and optimizer step, the forward time of
each top-level module (``image_encoder``, ``memory_attention``, ...) and the operators with the
most CPU time over a few profiled steps. Compare the total with the trainer's "Batch Time" on the
same config: the difference is the trainer's own share (DDP, schedulers, logging, waiting for the
slower rank).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from itertools import islice, pairwise
from pathlib import Path

import torch
import torch.distributed as dist
from hydra.utils import instantiate
from tqdm import tqdm
from training.trainer import CORE_LOSS_KEY

from training_ext.cli.common import exit_code, positive_int
from training_ext.config import compose_config, config_name_from_argument, initialize_hydra
from training_ext.errors import UserError

WARMUP_STEPS = 3
PROFILED_STEPS = 5
PHASES = ("forward", "loss", "backward", "optimizer")


def module_timers(model: torch.nn.Module, totals: dict[str, float]) -> None:
    """Add each top-level module's forward time to ``totals`` (forward hooks)."""
    started: dict[str, float] = {}

    def timers(name: str) -> tuple:
        def before(*_: object) -> None:
            started[name] = time.perf_counter()

        def after(*_: object) -> None:
            totals[name] += time.perf_counter() - started[name]

        return before, after

    for name, module in model.named_children():
        before, after = timers(name)
        module.register_forward_pre_hook(before)
        module.register_forward_hook(after)


def training_steps(model, loss, optimizer, batches: Iterator, phases: dict[str, float]) -> None:
    for batch in batches:
        marks = [time.perf_counter()]
        outputs = model(batch)
        marks.append(time.perf_counter())
        core = loss(outputs, batch.masks)[CORE_LOSS_KEY]
        marks.append(time.perf_counter())
        optimizer.zero_grad()
        core.backward()
        marks.append(time.perf_counter())
        optimizer.step()
        marks.append(time.perf_counter())
        for phase, (start, end) in zip(PHASES, pairwise(marks), strict=True):
            phases[phase] += end - start


def main() -> None:
    sys.exit(exit_code("step_time_breakdown.py", breakdown))


def breakdown() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="pretrain_synthetic")
    parser.add_argument("--data", type=Path, required=True, help="dataset root (DAVIS layout)")
    parser.add_argument("--steps", type=positive_int, default=40)
    parser.add_argument("overrides", nargs="*", help="Hydra key=value overrides")
    args = parser.parse_args()

    if not (args.data / "JPEGImages").is_dir():
        raise UserError(
            f"--data {args.data}: no JPEGImages/ folder; give a DAVIS-layout dataset root"
        )
    torch.set_num_threads(1)  # one CPU rank's share on a 2-core machine with 2 ranks
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29561")
    dist.init_process_group("gloo", rank=0, world_size=1)  # the stock loader's sampler needs one
    config, config_dir = config_name_from_argument(args.config)
    initialize_hydra(config_dir)
    cfg = compose_config(
        config,
        [f"dataset.root={args.data.resolve()}", *args.overrides],
    )
    model = instantiate(cfg.trainer.model, _convert_="all").train()
    loss = instantiate(cfg.trainer.loss, _convert_="all")["all"]
    loader = instantiate(cfg.trainer.data.train, _convert_="all").get_loader(epoch=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    batches = iter(loader)

    training_steps(model, loss, optimizer, islice(batches, WARMUP_STEPS), defaultdict(float))
    phases: dict[str, float] = defaultdict(float)
    modules: dict[str, float] = defaultdict(float)
    module_timers(model, modules)
    steps = tqdm(islice(batches, args.steps), total=args.steps, desc="steps", unit="step")
    training_steps(model, loss, optimizer, steps, phases)
    per_step = {name: round(1000 * seconds / args.steps, 1) for name, seconds in phases.items()}
    print(f"ms per step: {per_step}, total {sum(per_step.values()):.1f}")
    by_module = sorted(modules.items(), key=lambda item: -item[1])
    print(
        "forward ms per step by module:", {n: round(1000 * s / args.steps, 1) for n, s in by_module}
    )

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        training_steps(model, loss, optimizer, islice(batches, PROFILED_STEPS), defaultdict(float))
    print(profile.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
