"""``SAM2Train`` initialised so that a model trained from scratch learns to use its memory.

Measured on the tiny model (README: "The demo model"): from the stock random initialisation the
memory never influences the prediction (swapping which object's mask is remembered changes the
next frame's mask logits by 1e-5). The cross-attention over memory starts uniform, so its output
is the same at every position and carries no "where was the object" signal; the decoder learns to
segment every object instead (J ~ 0.45 on two-object clips whichever object is prompted), and
later the memory features grow until the attention saturates on one arbitrary token.

- ``memory_locality``: the query and key projections of every memory cross-attention start as a
  constant vector of this value (their weights scaled by ``memory_projection_scale``), so under
  RoPE each position first attends to the same place in the remembered frames.
- ``memory_pixel_scale``: the memory encoder's projection of the image features starts scaled by
  this factor (0: the memory first holds the mask alone). The image features grow tenfold in the
  first thousand steps; through this projection they swamp the keys, and the attention leaves
  the same place for one arbitrary token. Appearance enters the memory as it is learned.

Only initial weights change: the architecture and forward pass stay stock, and loading a
checkpoint (``pretrained.path``, resume) replaces them as usual.
"""

from __future__ import annotations

from typing import Any

import torch
from training.model.sam2 import SAM2Train


class ScratchInitSAM2Train(SAM2Train):
    """Stock ``SAM2Train`` whose memory attention starts local (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        memory_locality: float = 2.3,
        memory_projection_scale: float = 0.1,
        memory_pixel_scale: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        with torch.no_grad():
            for layer in self.memory_attention.layers:
                attention = layer.cross_attn_image
                for projection in (attention.q_proj, attention.k_proj):
                    projection.weight.mul_(memory_projection_scale)
                    projection.bias.fill_(memory_locality)
            pixel_projection = self.memory_encoder.pix_feat_proj
            pixel_projection.weight.mul_(memory_pixel_scale)
            pixel_projection.bias.mul_(memory_pixel_scale)
