"""Does a model use its memory? Two measurements on videos with two or more objects.

    .venv/bin/python benchmarks/memory_probe.py --config demo \\
        --checkpoint models/tiny_demo_synthetic.pt --data data/shifted [--videos 6]

1. Memory influence: prompt object A's mask on frame 0, track frame 1; again with object B's
   mask. A model that tracks what it was shown predicts different masks; one that ignores its
   memory predicts the same logits (mean |difference| ~ 0) and segments every object alike.
2. Cross-attention over memory on frame 1: entropy (uniform = log(#keys): the output is the same
   at every position) and the weight on the same position of the prompted frame.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from sam2.modeling.position_encoding import apply_rotary_enc

from training_ext.config import compose_config, config_name_from_argument, initialize_hydra
from training_ext.evaluation.inference import dataset_videos, ground_truth_prompts
from training_ext.evaluation.predictors import build_predictor


def attention_stats(module: torch.nn.Module, kwargs: dict) -> tuple[float, float, int]:
    """Entropy of the attention rows, mean weight on the same position, number of keys."""
    q = module._separate_heads(module.q_proj(kwargs["q"]), module.num_heads)
    k = module._separate_heads(module.k_proj(kwargs["k"]), module.num_heads)
    spatial = k.shape[-2] - kwargs.get("num_k_exclude_rope", 0)
    q, k_rope = apply_rotary_enc(
        q, k[:, :, :spatial], freqs_cis=module.freqs_cis, repeat_freqs_k=module.rope_k_repeat
    )
    k = torch.cat([k_rope, k[:, :, spatial:]], dim=-2)
    weights = ((q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])).softmax(-1)
    entropy = float(-(weights * weights.clamp_min(1e-12).log()).sum(-1).mean())
    positions = q.shape[-2]
    same_place = float(torch.diagonal(weights[..., :positions], dim1=-2, dim2=-1).mean())
    return entropy, same_place, k.shape[-2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="demo", help="training config of the model")
    parser.add_argument("--checkpoint", type=Path, help="weights (default: random init)")
    parser.add_argument("--data", type=Path, required=True, help="DAVIS-layout folder")
    parser.add_argument("--videos", type=int, default=6, help="how many multi-object videos")
    args = parser.parse_args()
    name, config_dir = config_name_from_argument(args.config)
    initialize_hydra(config_dir)
    torch.manual_seed(0)
    predictor = build_predictor(compose_config(name, []).trainer.model, args.checkpoint, "cpu")
    captured: list[tuple[torch.nn.Module, dict]] = []
    first_layer = predictor.memory_attention.layers[0].cross_attn_image
    first_layer.register_forward_hook(
        lambda module, _, kwargs, __: captured.append((module, kwargs)), with_kwargs=True
    )
    videos = [v for v in dataset_videos(args.data) if len(ground_truth_prompts(v, "first")) > 1]
    differences, magnitudes, entropies, same_places = [], [], [], []
    keys = 0
    for video in videos[: args.videos]:
        logits = []
        for prompt in ground_truth_prompts(video, "first")[:2]:
            captured.clear()
            state = predictor.init_state(str(video.frames_dir))
            predictor.add_new_mask(state, 0, 1, prompt.mask)
            with torch.no_grad():
                for frame, _, mask_logits in predictor.propagate_in_video(
                    state, max_frame_num_to_track=1
                ):
                    if frame == 1:
                        logits.append(mask_logits[0, 0].float())
                entropy, same_place, keys = attention_stats(*captured[0])
            entropies.append(entropy)
            same_places.append(same_place)
        differences.append(float((logits[0] - logits[1]).abs().mean()))
        magnitudes.append(float(logits[0].abs().mean()))
    print(f"{len(differences)} videos with two or more objects; frame 1 after a mask on frame 0")
    print(
        f"memory influence: mean |logit(A) - logit(B)| = {np.mean(differences):.4g} "
        f"(mean |logit| {np.mean(magnitudes):.4g})"
    )
    print(
        f"memory cross-attention (layer 0): entropy {np.mean(entropies):.3g} of "
        f"{math.log(keys):.3g} (uniform over {keys} keys), weight on the same position "
        f"{np.mean(same_places):.3g} (uniform {1 / keys:.3g})"
    )


if __name__ == "__main__":
    main()
