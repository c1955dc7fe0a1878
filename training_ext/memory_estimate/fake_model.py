"""The config's ``SAM2Train`` and one batch of its shapes, real or as fake tensors."""

from __future__ import annotations

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode
from training.utils.data_utils import BatchedVideoDatapoint, BatchedVideoMetaData

from training_ext.trainer.trainable_modules import freeze_all_but


def build_training_model(cfg: DictConfig) -> nn.Module:
    """``trainer.model`` with random weights (no checkpoint is read: shapes are what count),
    modules outside ``trainer.trainable_modules`` frozen as in training."""
    model = instantiate(cfg.trainer.model, _convert_="all")
    trainable = cfg.trainer.get("trainable_modules")
    if trainable:
        freeze_all_but(model, list(trainable))
    return model.train()


def make_fake(model: nn.Module, fake_mode: FakeTensorMode) -> nn.Module:
    """Swap every parameter, buffer and tensor attribute for a fake tensor of its shape.

    Built for real first: Hiera's constructor calls ``.item()``, which fake tensors cannot.
    """
    for module in model.modules():
        for name, parameter in module._parameters.items():
            if parameter is not None:
                fake = fake_mode.from_tensor(parameter.detach())
                module._parameters[name] = nn.Parameter(fake, parameter.requires_grad)
        for name, buffer in module._buffers.items():
            if buffer is not None:
                module._buffers[name] = fake_mode.from_tensor(buffer)
        for name, value in vars(module).items():  # e.g. RoPEAttention.freqs_cis, a plain attribute
            if isinstance(value, torch.Tensor) and not name.startswith("_"):
                setattr(module, name, fake_mode.from_tensor(value))
    return model


def training_batch(
    frames: int, videos: int, objects_per_video: int, resolution: int
) -> BatchedVideoDatapoint:
    """A collated training batch of blank frames in which every video has every object."""
    objects = videos * objects_per_video
    video_of_object = torch.arange(objects) // objects_per_video
    obj_to_frame_idx = torch.stack(
        [torch.stack([torch.full((objects,), t), video_of_object], dim=-1) for t in range(frames)]
    ).int()
    return BatchedVideoDatapoint(
        img_batch=torch.zeros(frames, videos, 3, resolution, resolution),
        obj_to_frame_idx=obj_to_frame_idx,
        masks=torch.zeros(frames, objects, resolution, resolution, dtype=torch.bool),
        metadata=BatchedVideoMetaData(
            unique_objects_identifier=torch.zeros(frames, objects, 3, dtype=torch.long),
            frame_orig_size=torch.zeros(frames, objects, 2, dtype=torch.long),
            batch_size=[frames],
        ),
        dict_key="all",
        batch_size=[frames],
    )
