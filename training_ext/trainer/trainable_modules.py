"""Training only some of SAM2's modules: freeze the rest and leave it out of the optimizer."""

from __future__ import annotations

import logging

import torch

from training_ext.errors import UserError


def module_names(model: torch.nn.Module) -> list[str]:
    """Names ``trainable_modules`` accepts: the model's sub-modules and its own parameters."""
    children = [name for name, _ in model.named_children()]
    own_parameters = [name for name, _ in model.named_parameters(recurse=False)]
    return sorted(children + own_parameters)


def check_module_names(model: torch.nn.Module, trainable: list[str]) -> None:
    """One-line UserError for a name in ``trainable`` that the model does not have."""
    valid = module_names(model)
    unknown = [name for name in trainable if name not in valid]
    if unknown:
        raise UserError(
            f"trainer.trainable_modules: unknown module {unknown[0]!r}; valid names: "
            f"{', '.join(valid)}"
        )


def freeze_all_but(model: torch.nn.Module, trainable: list[str]) -> None:
    """Set ``requires_grad`` on the parameters under ``trainable`` names only."""
    check_module_names(model, trainable)
    prefixes = tuple(f"{name}." for name in trainable)
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name in trainable or name.startswith(prefixes)
    counts = parameter_counts(model)
    logging.info(
        "trainable_modules %s: %s of %s parameters trainable (%.1f%%)",
        list(trainable),
        f"{counts[0]:,}",
        f"{counts[1]:,}",
        100 * counts[0] / counts[1],
    )


def parameter_counts(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total


def drop_frozen_parameters(optimizer: torch.optim.Optimizer) -> None:
    """Remove frozen parameters from every group (groups stay, so schedulers keep their index)."""
    for group in optimizer.param_groups:
        group["params"] = [p for p in group["params"] if p.requires_grad]
