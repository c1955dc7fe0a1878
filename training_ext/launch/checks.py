"""Checks on a composed training config that must pass before anything is written or spawned."""

from __future__ import annotations

import functools
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

from training_ext.data.bad_frames import check_on_bad_frame
from training_ext.devices import resolve_accelerator
from training_ext.errors import UserError
from training_ext.evaluation.inference import PROMPT_FRAMES, PROMPTS
from training_ext.evaluation.metrics import SCORE_MODES
from training_ext.launch.dataset_checks import check_training_datasets
from training_ext.memory_policies import make_policy
from training_ext.resume.checkpoint_io import check_model_state, read_checkpoint
from training_ext.trainer.trainable_modules import check_module_names

_ENV_NOT_FOUND = re.compile(r"Environment variable '([^']+)' not found")
_MISSING_VALUE = re.compile(r"Missing mandatory value: ([\w.]+)")
_HOW_TO_SET = {
    "dataset.root": "export SAM2_DATASET=/path/to/data or pass dataset.root=/path/to/data",
    "pretrained.path": (
        "export SAM2_CHECKPOINTS=/dir/with/checkpoints or pass pretrained.path=/path/to/file.pt"
    ),
    "stage1_run": "pass stage1_run=/path/to/stage1/run (the stage-1 launcher.experiment_log_dir)",
}


def validate_training_config(cfg: DictConfig, runs_here: bool = True) -> list[str]:
    """Raise a one-line UserError for the first problem found in ``cfg``; return warnings (one
    line each) about what may still go wrong.

    ``runs_here``: training runs on this machine (not submitted to a cluster), so the devices
    it asks for must be present here.
    """
    for key in _HOW_TO_SET:  # the keys users set most: resolve them first for a precise message
        if _has_key(cfg, key):
            _resolve(cfg, key)
    _check_numbers(cfg)  # before the keys that interpolate them fail to resolve
    _resolve(cfg)
    check_training_datasets(cfg)
    model = functools.cache(lambda: instantiate(cfg.trainer.model, _convert_="all"))  # built once
    _check_checkpoints(cfg, model)
    _check_vos_validation(cfg)
    _check_train_sampler(cfg)
    _check_run_folder_writable(cfg)
    _check_trainable_modules(cfg, model)
    if runs_here:
        _check_devices(cfg)
    return [warning for warning in (_low_disk_space(cfg, model),) if warning]


def validate_step_config(cfg: DictConfig) -> None:
    """The checks that need no data or files: what one training step's shapes are made of
    (``--estimate-memory`` runs only these)."""
    _check_numbers(cfg)
    _check_train_sampler(cfg)


def _has_key(cfg: DictConfig, key: str) -> bool:
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent, throw_on_resolution_failure=False) if parent else cfg
    return isinstance(node, DictConfig) and leaf in node


def _resolve(cfg: DictConfig, key: str | None = None) -> None:
    """Resolve ``key`` (or the whole config) and explain the first value that cannot be."""
    try:
        if key is None:
            OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        else:
            OmegaConf.select(cfg, key, throw_on_missing=True)
    except MissingMandatoryValue as error:
        missing = key or error.full_key
        how = _HOW_TO_SET.get(missing, f"pass {missing}=<value>")
        raise UserError(f"{missing} has no value: {how}") from None
    except InterpolationResolutionError as error:
        raise _resolution_error(key or error.full_key, error) from None


def _resolution_error(key: str, error: Exception) -> UserError:
    missing_value = _MISSING_VALUE.search(str(error))  # a ??? reached through an interpolation
    if missing_value:
        missing = missing_value.group(1)
        return UserError(
            f"{missing} has no value: {_HOW_TO_SET.get(missing, f'pass {missing}=<value>')}"
        )
    missing_env = _ENV_NOT_FOUND.search(str(error))
    if missing_env:
        how = _HOW_TO_SET.get(key, f"export {missing_env.group(1)}=... or pass {key}=<value>")
        return UserError(f"{key} is not set (${missing_env.group(1)} is undefined): {how}")
    hint = ""
    if key.startswith("trainer.vos_validation."):  # e.g. validation=synthetic with JSON data
        hint = (
            "; validation during training reads a DAVIS-layout folder: pass "
            "trainer.vos_validation.data_root=/path/to/val or validation=none"
        )
    return UserError(f"{key}: {str(error).splitlines()[0]}{hint}")


def _check_vos_validation(cfg: DictConfig) -> None:
    section = OmegaConf.select(cfg, "trainer.vos_validation")
    if section is None:
        return
    for folder in ("JPEGImages", "Annotations"):
        if not (Path(section.data_root) / folder).is_dir():
            raise UserError(
                f"trainer.vos_validation.data_root: {section.data_root} has no {folder}/ folder; "
                "pass trainer.vos_validation.data_root=/path/to/val/data or validation=none"
            )
    file_list = section.get("file_list_txt")
    if file_list is not None and not Path(file_list).is_file():
        raise UserError(
            f"trainer.vos_validation.file_list_txt: file {file_list} does not exist; "
            "pass trainer.vos_validation.file_list_txt=/path/to/list.txt or null"
        )
    policy = section.get("memory_policy")
    if policy is not None:
        make_policy(OmegaConf.to_container(policy), where="trainer.vos_validation.memory_policy")
    choices = {"prompt": PROMPTS, "prompt_frame": PROMPT_FRAMES, "score_mode": SCORE_MODES}
    for key, allowed in choices.items():
        if section.get(key) not in allowed:
            raise UserError(
                f"trainer.vos_validation.{key}={section.get(key)!r} is not one of "
                f"{', '.join(allowed)}"
            )


def _check_train_sampler(cfg: DictConfig) -> None:
    """Our samplers check their arguments; say which config key holds them."""
    sampler = OmegaConf.select(cfg, "vos.train_sampler")
    if sampler is None:
        return
    try:
        instantiate(sampler)
    except UserError as error:
        raise UserError(f"vos.train_sampler: {error}") from None
    except InstantiationException as error:
        cause = error.__cause__ if isinstance(error.__cause__, UserError) else error
        raise UserError(f"vos.train_sampler: {str(cause).splitlines()[0]}") from None


# Numbers users set most, checked before launch: key -> (minimum, null allowed, example).
_WHOLE_NUMBERS = {
    "scratch.num_epochs": (1, False, 10),
    "trainer.max_epochs": (1, False, 10),
    "trainer.accumulate_grad_batches": (1, False, 2),
    "trainer.save_every_steps": (1, True, 500),
    "trainer.early_stopping_patience": (1, True, 3),
    "scratch.train_batch_size": (1, False, 1),
    "scratch.num_frames": (1, False, 8),
    "scratch.max_num_objects": (1, False, 3),
    "scratch.num_train_workers": (0, False, 4),
}
_LEARNING_RATES = ("scratch.base_lr", "scratch.vision_lr")  # 0 freezes: allowed
_IMAGE_SIZE = "trainer.model.image_size"
_NOT_SET = object()


def _number(cfg: DictConfig, key: str) -> object:
    """The value at ``key``; ``_NOT_SET`` when absent or not resolvable (reported later)."""
    try:
        return OmegaConf.select(cfg, key, default=_NOT_SET) if _has_key(cfg, key) else _NOT_SET
    except Exception:  # noqa: BLE001 - the full resolution below explains it in one line
        return _NOT_SET


def _check_numbers(cfg: DictConfig) -> None:
    for key, (minimum, may_be_null, example) in _WHOLE_NUMBERS.items():
        value = _number(cfg, key)
        if value is _NOT_SET:
            continue  # the Trainer's default
        if value is None and may_be_null:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            off = " or null to turn it off" if may_be_null else ""
            raise UserError(
                f"{key}={value!r} is not a whole number >= {minimum}: pass e.g. "
                f"{key}={example}{off}"
            )
    for key in _LEARNING_RATES:
        value = _number(cfg, key)
        if value is not _NOT_SET and (
            isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        ):
            raise UserError(f"{key}={value!r} is not a number >= 0: pass e.g. {key}=1e-5")
    check_on_bad_frame(OmegaConf.select(cfg, "dataset.on_bad_frame", default="skip"))
    size = _number(cfg, _IMAGE_SIZE)
    if size is not _NOT_SET and (
        isinstance(size, bool) or not isinstance(size, int) or size < 32 or size % 32
    ):
        raise UserError(
            f"{_IMAGE_SIZE}={size!r} (scratch.resolution follows it) is not a multiple of 32: "
            f"pass e.g. {_IMAGE_SIZE}=512"
        )


def _nearest_existing(folder: Path) -> Path:
    """``folder``, or its closest parent that exists (where it would be created)."""
    return next(p for p in (folder, *folder.parents) if p.exists())


def _check_run_folder_writable(cfg: DictConfig) -> None:
    if OmegaConf.select(cfg, "launcher.experiment_log_dir") is None:
        return  # set by sam2-train from the config name before it validates
    folder = Path(cfg.launcher.experiment_log_dir).absolute()
    existing = _nearest_existing(folder)
    try:  # a real write: permission bits say nothing to root, or on /proc and read-only mounts
        tempfile.TemporaryDirectory(dir=existing).cleanup()
    except OSError:
        raise UserError(
            f"launcher.experiment_log_dir={folder} cannot be written ({existing} is not a "
            "writable folder): pick a folder you can write to"
        ) from None


def _check_trainable_modules(cfg: DictConfig, model: Callable[[], torch.nn.Module]) -> None:
    """Unknown names fail here, in one line, not in every rank after spawning."""
    trainable = OmegaConf.select(cfg, "trainer.trainable_modules")
    if trainable:
        check_module_names(model(), list(trainable))


# A training checkpoint holds the fp32 weights and AdamW's two moments: 12 bytes per parameter.
# The run folder keeps checkpoint.pt and best.pt, and writes the next one beside them.
_CHECKPOINT_BYTES_PER_PARAMETER = 12
_CHECKPOINTS_TO_FIT = 3
_LARGEST_MODEL_PARAMETERS = 1_000_000_000  # above SAM2.1-L (224M): more free space needs no model


def _low_disk_space(cfg: DictConfig, model: Callable[[], torch.nn.Module]) -> str | None:
    """A warning when the checkpoint folder's disk cannot hold three checkpoints of this model."""
    if OmegaConf.select(cfg, "launcher.experiment_log_dir") is None:
        return None
    folder = Path(cfg.trainer.checkpoint.save_dir).absolute()
    existing = _nearest_existing(folder)
    free = shutil.disk_usage(existing).free
    per_parameter = _CHECKPOINT_BYTES_PER_PARAMETER * _CHECKPOINTS_TO_FIT
    if free >= per_parameter * _LARGEST_MODEL_PARAMETERS:
        return None
    checkpoint = _CHECKPOINT_BYTES_PER_PARAMETER * sum(p.numel() for p in model().parameters())
    if free >= _CHECKPOINTS_TO_FIT * checkpoint:
        return None
    return (
        f"only {free / 2**20:.0f} MB free for trainer.checkpoint.save_dir={folder}; a checkpoint "
        f"of this model takes ~{checkpoint / 2**20:.0f} MB and a run keeps "
        f"{_CHECKPOINTS_TO_FIT} at a time: free some space or pick a folder on a larger disk"
    )


def _check_checkpoints(cfg: DictConfig, model: Callable[[], torch.nn.Module]) -> None:
    """The checkpoints the ranks would load: readable, of this architecture, before anything is
    copied into the run folder (the stock trainer copies ``resume_from`` there first)."""
    checkpoint_cfg = cfg.trainer.checkpoint
    initializer = checkpoint_cfg.get("model_weight_initializer")
    pretrained = initializer and OmegaConf.select(initializer, "state_dict.checkpoint_path")
    hint = _HOW_TO_SET["stage1_run" if "stage1_run" in cfg else "pretrained.path"]
    if pretrained and not Path(pretrained).is_file():
        raise UserError(f"pretrained checkpoint {pretrained} not found: {hint}")
    run_checkpoint = Path(checkpoint_cfg.save_dir) / "checkpoint.pt"
    resume_from = checkpoint_cfg.get("resume_from")
    if not (pretrained or run_checkpoint.is_file() or resume_from):
        return
    expected = model().state_dict()
    if pretrained and not OmegaConf.select(initializer, "state_dict.checkpoint_kernels"):
        state = read_checkpoint(Path(pretrained), "pretrained checkpoint", hint)
        for key in OmegaConf.select(initializer, "state_dict.ckpt_state_dict_keys") or []:
            state = state[key]
        check_model_state(
            state,
            expected,
            f"pretrained checkpoint {pretrained}",
            "pass the checkpoint of the model this config builds (pretrained.path)",
            # the stock loader: missing keys only matter when strict, unexpected ones always
            ignore_missing=["*"]
            if not initializer.get("strict", True)
            else _patterns(initializer, "ignore_missing_keys"),
            ignore_unexpected=_patterns(initializer, "ignore_unexpected_keys"),
        )
    if run_checkpoint.is_file():
        what = "the run's checkpoint"
        hint = "move it away to start this run over, or give another launcher.experiment_log_dir"
    elif resume_from:
        what, run_checkpoint = "trainer.checkpoint.resume_from", Path(resume_from)
        hint = "pass the checkpoint.pt of a run of this config"
    else:
        return
    state = read_checkpoint(run_checkpoint, what, hint)
    missing_trainer_state = [key for key in ("optimizer", "epoch", "steps") if key not in state]
    if missing_trainer_state:
        raise UserError(
            f"{what} {run_checkpoint} has no {missing_trainer_state[0]}: it is a model file, not "
            "a training checkpoint; load model weights with pretrained.path instead"
        )
    skipped = checkpoint_cfg.get("skip_saving_parameters") or []
    check_model_state(state["model"], expected, f"{what} {run_checkpoint}", hint, skipped)


def _patterns(initializer: DictConfig, key: str) -> list[str]:
    return list(initializer.get(key) or [])


def _check_devices(cfg: DictConfig) -> None:
    accelerator = resolve_accelerator(OmegaConf.select(cfg, "trainer.accelerator", default="auto"))
    ranks = cfg.launcher.gpus_per_node
    if ranks < 1:
        raise UserError(f"--num-gpus / launcher.gpus_per_node must be >= 1, got {ranks}")
    if accelerator == "cuda" and ranks > torch.cuda.device_count():
        raise UserError(
            f"{ranks} GPUs per node requested (--num-gpus / launcher.gpus_per_node) but only "
            f"{torch.cuda.device_count()} CUDA GPU(s) are visible: pass --num-gpus "
            f"{torch.cuda.device_count()}"
        )
