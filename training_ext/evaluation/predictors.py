"""SAM2 video predictors built from training configs, never from hand-written twins.

A training config describes the model under ``trainer.model`` with the ``SAM2Train`` class and
its training-only arguments (prompt sampling, correction clicks, ...). The predictor config is
derived from it: the same architecture with those arguments removed, registered in Hydra's
ConfigStore and built by the stock ``sam2.build_sam.build_sam2_video_predictor`` (which adds its
usual inference settings: hole filling, binarized click masks, and the dynamic multimask switch,
kept off for a model that tracks with one mask: see ``keep_single_mask_tracking``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from hydra.core.config_store import ConfigStore
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf
from sam2.build_sam import build_sam2_video_predictor
from sam2.modeling.sam2_base import SAM2Base
from sam2.sam2_video_predictor import SAM2VideoPredictor
from training.model.sam2 import SAM2Train

from training_ext.errors import UserError
from training_ext.resume.checkpoint_io import check_model_state, read_checkpoint

POLICY_PREDICTOR = "training_ext.memory_policies.video_predictor.MemoryPolicyVideoPredictor"
_PREDICTOR_GROUP, _PREDICTOR_NAME = "_sam2_eval", "predictor"


def training_only_arguments(training_class: type) -> frozenset[str]:
    """Constructor arguments of a ``SAM2Train`` (sub)class that ``SAM2Base`` does not take."""
    arguments = set()
    for cls in training_class.__mro__:
        if cls is SAM2Base:
            break
        if "__init__" in vars(cls):
            arguments |= set(inspect.signature(cls).parameters)
    return frozenset(arguments - set(inspect.signature(SAM2Base).parameters))


def predictor_model_config(training_model: DictConfig) -> DictConfig:
    """The ``model`` node of a predictor config for the model ``trainer.model`` describes."""
    model = OmegaConf.to_container(training_model, resolve=True)
    training_class = get_class(model.get("_target_", f"{SAM2Train.__module__}.SAM2Train"))
    dropped = training_only_arguments(training_class)
    kept = {key: value for key, value in model.items() if key not in dropped}
    kept["_target_"] = f"{SAM2Base.__module__}.{SAM2Base.__name__}"
    return OmegaConf.create(kept)


def load_run_config(run_dir: Path) -> DictConfig:
    """The resolved config a ``sam2-train`` run wrote (``<run>/config_resolved.yaml``)."""
    path = Path(run_dir) / "config_resolved.yaml"
    if not path.is_file():
        raise UserError(
            f"{path} not found: --run must be a training run folder (launcher.experiment_log_dir)"
        )
    return OmegaConf.load(path)


def build_predictor(
    training_model: DictConfig,
    checkpoint: Path | None,
    device: str | torch.device = "cpu",
    memory_policy: Mapping[str, Any] | None = None,
) -> SAM2VideoPredictor:
    """A ``SAM2VideoPredictor`` of the training model's architecture, weights from ``checkpoint``
    (a training checkpoint or exported weights: a dict with a ``model`` state dict).

    ``memory_policy`` (``{name: rcms, ...}``, checked by the caller's edge, see
    training_ext/memory_policies): build a ``MemoryPolicyVideoPredictor`` that consults it;
    ``None``: the stock predictor class.
    """
    model = predictor_model_config(training_model)
    overrides = []
    if memory_policy is not None:
        model.memory_policy = dict(memory_policy)
        overrides.append(f"++model._target_={POLICY_PREDICTOR}")
    ConfigStore.instance().store(
        group=_PREDICTOR_GROUP, name=_PREDICTOR_NAME, node={"model": model}, package="_global_"
    )
    predictor = build_sam2_video_predictor(
        f"{_PREDICTOR_GROUP}/{_PREDICTOR_NAME}",
        None,
        device=str(device),
        hydra_overrides_extra=overrides,
    )
    keep_single_mask_tracking(predictor)
    predictor.memory_attention.register_forward_pre_hook(_memory_in_query_dtype, with_kwargs=True)
    if checkpoint is not None:
        load_model_weights(predictor, Path(checkpoint))
    return predictor


def keep_single_mask_tracking(predictor: SAM2VideoPredictor) -> None:
    """Keep a model trained with one mask per tracked frame on that one mask.

    The stock predictor switches an "unstable" single mask to the best of the three multimask
    outputs (``dynamic_multimask_via_stability``). A model trained with
    ``multimask_output_for_tracking: false`` never trained those outputs on tracked frames, so
    the switch picks an untrained mask (often the whole frame) and tracking is lost from then on:
    held-out J&F 0.15 with it, 0.46 without, for the shipped tiny model. (The stock builder
    appends its own overrides after the caller's, so this is set on the built model.)
    """
    if not predictor.multimask_output_for_tracking:
        predictor.sam_mask_decoder.dynamic_multimask_via_stability = False


def _memory_in_query_dtype(module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple:
    """The stock predictor stores memory features in bfloat16 and expects bfloat16 autocast
    around inference; without it, attention over memory without object pointers (e.g. an object
    prompted on a later frame) fails on float32 weights. Cast the memory to the query's dtype."""
    query = kwargs["curr"][0] if isinstance(kwargs.get("curr"), list) else kwargs.get("curr")
    for key in ("memory", "memory_pos"):
        if query is not None and kwargs.get(key) is not None:
            kwargs[key] = kwargs[key].to(query.dtype)
    return args, kwargs


def load_model_weights(model: torch.nn.Module, checkpoint: Path) -> None:
    """Load ``checkpoint["model"]`` strictly, or explain in one line why it does not fit."""
    hint = "pass the config the checkpoint was trained with"
    state = read_checkpoint(checkpoint, "checkpoint", hint)["model"]
    check_model_state(state, model.state_dict(), f"checkpoint {checkpoint}", hint)
    model.load_state_dict(state, strict=True)
