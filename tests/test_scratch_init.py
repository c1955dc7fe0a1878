"""ScratchInitSAM2Train: the pretraining recipe's model starts with local memory attention and a
mask-only memory, and a predictor is still derived from its config."""

from __future__ import annotations

import math

import torch
from hydra.utils import instantiate
from sam2.modeling.position_encoding import apply_rotary_enc

from training_ext.config import compose_config, initialize_hydra
from training_ext.evaluation.predictors import build_predictor
from training_ext.model.scratch_init import ScratchInitSAM2Train


def pretrain_model() -> tuple[ScratchInitSAM2Train, object]:
    initialize_hydra()
    cfg = compose_config("pretrain_synthetic", ["dataset.root=/unused"])
    torch.manual_seed(0)
    return instantiate(cfg.trainer.model, _convert_="all"), cfg.trainer.model


def test_memory_attention_starts_at_the_same_place() -> None:
    model, _ = pretrain_model()
    attention = model.memory_attention.layers[0].cross_attn_image
    positions = attention.freqs_cis.shape[0]  # 8 x 8 at 128 px
    query = torch.randn(1, positions, attention.q_proj.in_features)
    memory = torch.randn(1, 2 * positions, attention.k_proj.in_features)  # two remembered frames
    q = attention._separate_heads(attention.q_proj(query), attention.num_heads)
    k = attention._separate_heads(attention.k_proj(memory), attention.num_heads)
    q, k = apply_rotary_enc(q, k, freqs_cis=attention.freqs_cis, repeat_freqs_k=True)
    weights = ((q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])).softmax(-1)[0, 0]
    same_place = torch.diagonal(weights[:, :positions]) + torch.diagonal(weights[:, positions:])
    assert same_place.mean() > 20 / (2 * positions)  # far above uniform attention
    assert (weights.argmax(-1) % positions == torch.arange(positions)).all()


def test_memory_first_holds_the_mask_alone() -> None:
    model, _ = pretrain_model()
    assert not model.memory_encoder.pix_feat_proj.weight.any()
    features = torch.randn(1, model.hidden_dim, 8, 8)
    mask = torch.full((1, 1, 128, 128), -10.0)
    with torch.no_grad():
        blank = model.memory_encoder(features, mask, skip_mask_sigmoid=True)["vision_features"]
        other = model.memory_encoder(5 * features, mask, skip_mask_sigmoid=True)
    assert torch.equal(blank, other["vision_features"])


def test_predictor_of_the_pretraining_config_is_the_stock_architecture() -> None:
    model, training_model = pretrain_model()
    predictor = build_predictor(training_model, None, "cpu")
    assert type(predictor).__name__ == "SAM2VideoPredictor"
    assert predictor.state_dict().keys() == model.state_dict().keys()
