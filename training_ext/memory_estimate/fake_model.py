"""The config's ``SAM2Train`` and one batch of its shapes, as fake tensors."""

from __future__ import annotations

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode
from training.utils.data_utils import BatchedVideoDatapoint, BatchedVideoMetaData

from training_ext.trainer.trainable_modules import freeze_all_but


def build_fake_model(cfg: DictConfig, fake_mode: FakeTensorMode) -> nn.Module:
    """``trainer.model`` built for real (Hiera's init needs real tensors), then made fake.

    Weights are random: the estimate needs shapes only, so no checkpoint is read. Parameters of
    modules outside ``trainer.trainable_modules`` are frozen as in training.
    """
    model = instantiate(cfg.trainer.model, _convert_="all")
    trainable = cfg.trainer.get("trainable_modules")
    if trainable:
        freeze_all_but(model, list(trainable))
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
    return model.train()


def fake_batch(
    frames: int, videos: int, objects_per_video: int, resolution: int
) -> BatchedVideoDatapoint:
    """A collated training batch (call inside the fake mode): every video has every object."""
    objects = videos * objects_per_video
    video_of_object = torch.arange(objects) // objects_per_video
    obj_to_frame_idx = torch.stack(
        [torch.stack([torch.full((objects,), t), video_of_object], dim=-1) for t in range(frames)]
    ).int()
    return BatchedVideoDatapoint(
        img_batch=torch.empty(frames, videos, 3, resolution, resolution),
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
