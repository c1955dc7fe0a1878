"""One training step of a composed config on fake tensors: peak memory per GPU, by category."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode
from training.trainer import CORE_LOSS_KEY
from training.utils.train_utils import get_amp_type

from training_ext.errors import UserError
from training_ext.memory_estimate.fake_model import build_training_model, make_fake, training_batch
from training_ext.memory_estimate.gpu_kernels import cuda_like_step
from training_ext.memory_estimate.tracker import (
    ACTIVATIONS,
    GRADIENTS,
    OPTIMIZER,
    PARAMETERS,
    TEMPORARIES,
    MemoryTracker,
    Peak,
)


@dataclass(frozen=True)
class StepShapes:
    """What sets the memory of one step, read from the composed config."""

    resolution: int
    frames: int
    objects_per_video: int
    videos_per_gpu: int
    amp_dtype: torch.dtype | None
    gradient_clip: float | None
    accumulate_grad_batches: int

    @classmethod
    def from_config(cls, cfg: DictConfig) -> StepShapes:
        sampler = OmegaConf.select(cfg, "dataset.sampler") or cfg.vos.train_sampler
        amp = cfg.trainer.optim.get("amp") or {}
        clip = cfg.trainer.optim.get("gradient_clip") or {}
        return cls(
            resolution=int(cfg.trainer.model.image_size),
            frames=int(sampler.num_frames),
            objects_per_video=int(sampler.max_num_objects),
            videos_per_gpu=int(cfg.trainer.data.train.batch_sizes[0]),
            amp_dtype=get_amp_type(amp.get("amp_dtype")) if amp.get("enabled") else None,
            gradient_clip=clip.get("max_norm"),
            accumulate_grad_batches=int(cfg.trainer.get("accumulate_grad_batches") or 1),
        )


@dataclass(frozen=True)
class Prompting:
    """One outcome of ``SAM2Train``'s random prompt choice, forced for the estimate."""

    name: str
    clicks: bool
    frames_to_correct: int

    def apply(self, model: nn.Module) -> None:
        model.prob_to_use_pt_input_for_train = 1.0 if self.clicks else 0.0
        model.prob_to_use_box_input_for_train = 0.0
        model.num_init_cond_frames_for_train = 1  # the fewest prompted frames: most tracking
        model.rand_init_cond_frames_for_train = False
        model.num_frames_to_correct_for_train = self.frames_to_correct  # most correction rounds
        model.rand_frames_to_correct_for_train = False


@dataclass
class StepEstimate:
    prompting: str
    peak: Peak
    activations_by_module: dict[str, int] = field(default_factory=dict)

    @property
    def largest_module(self) -> tuple[str, int]:
        return max(self.activations_by_module.items(), key=lambda item: item[1])


@dataclass
class MemoryEstimate:
    shapes: StepShapes
    parameters: int
    trainable_parameters: int
    steps: list[StepEstimate]
    seconds: float

    @property
    def worst(self) -> StepEstimate:
        return max(self.steps, key=lambda step: step.peak.total)


def promptings(cfg: DictConfig, shapes: StepShapes) -> list[Prompting]:
    """The prompt outcomes this config can draw (clicks always on one-frame clips)."""
    click_probability = float(cfg.trainer.model.get("prob_to_use_pt_input_for_train", 0.0))
    corrected = min(int(cfg.trainer.model.get("num_frames_to_correct_for_train", 1)), shapes.frames)
    clicks = Prompting(f"clicks, corrected on {corrected} frame(s)", True, corrected)
    masks = Prompting("mask prompts", False, corrected)
    if shapes.frames == 1 or click_probability >= 1.0:
        return [clicks]
    return [masks] if click_probability <= 0.0 else [masks, clicks]


def estimate_training_memory(cfg: DictConfig, kernels: str = "cuda") -> MemoryEstimate:
    """Peak memory of one steady-state training step of ``cfg`` per GPU, without a GPU.

    ``kernels="cuda"``: what a GPU keeps (flash attention, CUDA autocast); ``"cpu"``: the step as
    the CPU trainer runs it (fp32, CPU attention), to compare with ``measure_training_memory``.
    """
    fake_mode = FakeTensorMode()
    return _one_step_per_prompting(
        cfg, make_fake(build_training_model(cfg), fake_mode), fake_mode, kernels
    )


def measure_training_memory(
    cfg: DictConfig,
    device: str = "cpu",
    around_step: Callable[[], AbstractContextManager] = nullcontext,
) -> MemoryEstimate:
    """The same steps on real tensors of ``device`` (calibration: the estimate against a run).

    On ``cuda`` the step runs under real autocast; ``around_step`` can read the allocator.
    """
    model = build_training_model(cfg).to(device)
    kernels = "real cuda" if device == "cuda" else "cpu"
    return _one_step_per_prompting(cfg, model, torch.device(device), kernels, around_step)


def _kernels(kernels: str, amp_dtype: torch.dtype | None) -> AbstractContextManager:
    if kernels == "cuda":
        return cuda_like_step(amp_dtype)
    if kernels == "real cuda" and amp_dtype is not None:
        return torch.autocast("cuda", dtype=amp_dtype)
    return nullcontext()


def _one_step_per_prompting(
    cfg: DictConfig,
    model: nn.Module,
    tensor_mode: AbstractContextManager,
    kernels: str,
    around_step: Callable[[], AbstractContextManager] = nullcontext,
) -> MemoryEstimate:
    start = time.monotonic()
    shapes = StepShapes.from_config(cfg)
    trainable = [p for p in model.parameters() if p.requires_grad]
    loss_fn = _instantiate(cfg, "trainer.loss.all")
    with tensor_mode:
        optimizer = _steady_state_optimizer(cfg, trainable, shapes.accumulate_grad_batches)
        batch = training_batch(
            shapes.frames, shapes.videos_per_gpu, shapes.objects_per_video, shapes.resolution
        )
    steps = []
    for prompting in promptings(cfg, shapes):
        prompting.apply(model)
        step_kernels = _kernels(kernels, shapes.amp_dtype)
        with tensor_mode, around_step():
            steps.append(
                _tracked_step(
                    model, optimizer, loss_fn, batch, shapes, prompting.name, step_kernels
                )
            )
    return MemoryEstimate(
        shapes=shapes,
        parameters=sum(p.numel() for p in model.parameters()),
        trainable_parameters=sum(p.numel() for p in trainable),
        steps=steps,
        seconds=time.monotonic() - start,
    )


def _steady_state_optimizer(
    cfg: DictConfig, trainable: list[nn.Parameter], accumulate_grad_batches: int
) -> torch.optim.Optimizer:
    """The config's optimizer after one step, so its state exists as in every later step."""
    optimizer = _instantiate(cfg, "trainer.optim.optimizer", trainable)
    for group in optimizer.param_groups:
        if "foreach" in group:
            group["foreach"] = True  # what torch picks for CUDA parameters
    for parameter in trainable:
        parameter.grad = torch.zeros_like(parameter)
    optimizer.step()
    # accumulating over several batches keeps gradients alive through the next forward
    optimizer.zero_grad(set_to_none=accumulate_grad_batches == 1)
    return optimizer


def _tracked_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    batch: object,
    shapes: StepShapes,
    prompting: str,
    kernels: AbstractContextManager,
) -> StepEstimate:
    tracker = MemoryTracker()
    tracker.add_existing([*model.parameters(), *model.buffers()], PARAMETERS)
    tracker.add_existing(_optimizer_tensors(optimizer), OPTIMIZER)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    tracker.add_existing(grads, GRADIENTS)
    activations: Counter[str] = Counter()
    handles = _attribute_activations(model, tracker, activations)
    handles += [
        p.register_post_accumulate_grad_hook(lambda p: tracker.mark_gradient(p.grad))
        for p in model.parameters()
        if p.requires_grad
    ]
    trainable = [p for p in model.parameters() if p.requires_grad]
    try:
        with tracker:
            tracker.enter_phase("forward", ACTIVATIONS)
            with kernels:
                loss = loss_fn(model(batch), batch.masks)[CORE_LOSS_KEY]
            if not loss.requires_grad:
                raise UserError(
                    f"a training step of this config trains nothing: no module of "
                    f"trainer.trainable_modules is used on clips of {shapes.frames} frame(s) "
                    "(the stock trainer would fail in backward); train more modules or use "
                    "longer clips (scratch.num_frames)"
                )
            tracker.enter_phase("backward", TEMPORARIES)
            loss.backward()
            del loss
            tracker.enter_phase("optimizer step", TEMPORARIES)
            if shapes.gradient_clip:
                torch.nn.utils.clip_grad_norm_(trainable, shapes.gradient_clip, foreach=True)
            optimizer.step()
            optimizer.zero_grad(set_to_none=shapes.accumulate_grad_batches == 1)
    finally:
        for handle in handles:
            handle.remove()
    return StepEstimate(prompting, tracker.peak, dict(activations))


def _instantiate(cfg: DictConfig, key: str, *args: object) -> object:
    """``instantiate`` of the section at ``key``; a bad ``_target_`` is a one-line UserError."""
    try:
        return instantiate(OmegaConf.select(cfg, key), *args)
    except InstantiationException as error:
        reason = str(error).splitlines()[0].split(", set env var HYDRA_FULL_ERROR")[0]
        raise UserError(f"{key}: {reason}: fix its _target_") from None


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [
        value
        for state in optimizer.state.values()
        for value in state.values()
        if isinstance(value, torch.Tensor)
    ]


def _attribute_activations(
    model: nn.Module, tracker: MemoryTracker, kept: Counter[str]
) -> list[torch.utils.hooks.RemovableHandle]:
    """Hooks adding to ``kept[name]`` what each top-level module's calls leave alive."""
    handles = []
    for name, module in model.named_children():
        before: list[int] = []

        def pre_hook(_module, _inputs, before=before) -> None:  # noqa: ANN001
            before.append(tracker.live_total())

        def post_hook(_module, _inputs, _output, name=name, before=before) -> None:  # noqa: ANN001
            kept[name] += tracker.live_total() - before.pop()

        handles.append(module.register_forward_pre_hook(pre_hook))
        handles.append(module.register_forward_hook(post_hook))
    return handles
