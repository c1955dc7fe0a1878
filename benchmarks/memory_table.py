"""The VRAM table in the README: estimated peak GiB per GPU of one training step.

    .venv/bin/python benchmarks/memory_table.py [--out memory_table.md] [--sizes t s b+ l]

SAM2.1 sizes x resolution x frames per clip x what is trained, each the worst case of the
prompt draw (`sam2-train --estimate-memory`: fake tensors, no GPU); 3 objects, one clip per GPU,
bf16 autocast, AdamW, as in `sam2.1_hiera_<size>_finetune`. Prints rows as they finish; "—":
the step trains nothing (memory modules on one-frame clips).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tqdm import tqdm

from training_ext.config import compose_config, initialize_hydra
from training_ext.errors import UserError
from training_ext.memory_estimate.estimate import estimate_training_memory

ALL_BUT_IMAGE_ENCODER = (
    "[mask_downsample,maskmem_tpos_enc,memory_attention,memory_encoder,no_mem_embed,"
    "no_mem_pos_enc,no_obj_embed_spatial,no_obj_ptr,obj_ptr_proj,obj_ptr_tpos_proj,"
    "sam_mask_decoder,sam_prompt_encoder]"
)
TRAINED = {
    "full": "null",
    "frozen image encoder": ALL_BUT_IMAGE_ENCODER,
    "memory modules only": "[memory_attention,memory_encoder]",
}
GiB = 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("memory_table.md"))
    parser.add_argument("--sizes", nargs="+", default=["t", "s", "b+", "l"])
    parser.add_argument("--resolutions", nargs="+", type=int, default=[512, 1024])
    parser.add_argument("--frames", nargs="+", type=int, default=[1, 8, 16])
    args = parser.parse_args()
    initialize_hydra()
    columns = [f"{frames} fr." for frames in args.frames]
    lines = [
        "| size | px | trained | " + " | ".join(columns) + " | s per estimate |",
        "|---|---|---|" + "---|" * (len(columns) + 1),
    ]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    cells = [
        (size, px, trained) for size in args.sizes for px in args.resolutions for trained in TRAINED
    ]
    for size, px, trained in tqdm(cells, desc="memory table", unit="row"):
        peaks, seconds = [], []
        for frames in args.frames:
            cfg = compose_config(
                f"sam2.1_hiera_{size}_finetune",
                [
                    f"trainer.model.image_size={px}",
                    f"scratch.num_frames={frames}",
                    f"trainer.trainable_modules={TRAINED[trained]}",
                ],
            )
            start = time.monotonic()
            try:
                peaks.append(f"{estimate_training_memory(cfg).worst.peak.total / GiB:.1f}")
            except UserError:  # e.g. memory modules only on one-frame clips: nothing to train
                peaks.append("—")
            seconds.append(time.monotonic() - start)
        row = f"| {size} | {px} | {trained} | " + " | ".join(peaks)
        row += f" | {max(seconds):.0f} |"
        lines.append(row)
        args.out.write_text("\n".join(lines) + "\n")
        tqdm.write(row)


if __name__ == "__main__":
    main()
