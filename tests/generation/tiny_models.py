"""Tiny random-weight video diffusion pipelines, built from config (no downloads).

Helpers for the tests and for `benchmarks/diffusion_bench.py`, not tests themselves.
Each builder seeds torch, builds every component of a real diffusers pipeline at a
toy size, and saves the pipeline with `save_pretrained` into `folder`, so that it is
loaded back through exactly the code path a real checkpoint takes
(`DiffusionPipeline.from_pretrained(folder)`). The shapes follow diffusers' own fast
tests (tests/pipelines/wan/test_wan*.py, tests/pipelines/ltx/test_ltx.py); the text
encoder uses `ByT5Tokenizer()`, which needs no vocabulary file.
"""
from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLLTXVideo,
    AutoencoderKLWan,
    FlowMatchEulerDiscreteScheduler,
    LTXPipeline,
    UniPCMultistepScheduler,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
    LTXVideoTransformer3DModel,
)
from transformers import (
    ByT5Tokenizer,
    CLIPImageProcessor,
    CLIPVisionConfig,
    CLIPVisionModel,
    T5Config,
    T5EncoderModel,
    UMT5Config,
    UMT5EncoderModel,
)

TEXT_DIM = 32            # hidden size of the tiny text encoders = the transformers' text/caption dim
BYT5_VOCAB = 384         # ByT5Tokenizer(): 3 special + 256 bytes + 125 extra ids


def _wan_text_encoder() -> tuple[ByT5Tokenizer, UMT5EncoderModel]:
    torch.manual_seed(0)
    config = UMT5Config(
        vocab_size=BYT5_VOCAB, d_model=TEXT_DIM, d_kv=8, d_ff=32, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8,
    )
    return ByT5Tokenizer(), UMT5EncoderModel(config).eval()


def _wan_vae() -> AutoencoderKLWan:
    torch.manual_seed(0)
    return AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )


def _wan_scheduler() -> UniPCMultistepScheduler:
    # The scheduler the Wan 2.1 checkpoints ship: UniPC on flow-matching sigmas.
    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)


def _wan_transformer(*, in_channels: int, image_dim: int | None) -> WanTransformer3DModel:
    torch.manual_seed(0)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=in_channels,
        out_channels=16, text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=1024, image_dim=image_dim,  # 1024 as in Wan 2.1
    )


def build_tiny_wan_t2v(folder: Path) -> Path:
    """A Wan 2.1-style text-to-video pipeline (WanPipeline), saved to `folder`."""
    tokenizer, text_encoder = _wan_text_encoder()
    pipe = WanPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=_wan_vae(), scheduler=_wan_scheduler(),
        transformer=_wan_transformer(in_channels=16, image_dim=None),
    )
    pipe.save_pretrained(folder)
    return Path(folder)


def build_tiny_wan_i2v(folder: Path) -> Path:
    """A Wan 2.1-style image-to-video pipeline (WanImageToVideoPipeline with a CLIP image encoder)."""
    tokenizer, text_encoder = _wan_text_encoder()
    torch.manual_seed(0)
    image_encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=4, projection_dim=4, num_hidden_layers=2, num_attention_heads=2, image_size=32,
            intermediate_size=16, patch_size=1,
        )
    ).eval()
    pipe = WanImageToVideoPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=_wan_vae(), scheduler=_wan_scheduler(),
        image_processor=CLIPImageProcessor(crop_size=32, size=32), image_encoder=image_encoder,
        # 16 noise channels + 16 image-latent channels + 4 mask channels
        transformer=_wan_transformer(in_channels=36, image_dim=4),
    )
    pipe.save_pretrained(folder)
    return Path(folder)


def build_tiny_ltx_t2v(folder: Path) -> Path:
    """An LTX-Video-style text-to-video pipeline (LTXPipeline), saved to `folder`."""
    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4,
        attention_head_dim=8, cross_attention_dim=32, num_layers=2, caption_channels=TEXT_DIM,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        # The real LTX-Video layout (patch 4, three space-time down/up stages: 32x spatial, 8x temporal)
        # at 8 channels, so the pipeline's size rules (multiples of 32, 8k+1 frames) hold for it too.
        latent_channels=8, block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False), decoder_spatio_temporal_scaling=(True, True, True, False),
        patch_size=4, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    )
    torch.manual_seed(0)
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=BYT5_VOCAB, d_model=TEXT_DIM, d_kv=8, d_ff=32, num_layers=2, num_heads=4,
                 relative_attention_num_buckets=8)
    ).eval()
    pipe = LTXPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder,
        tokenizer=ByT5Tokenizer(), transformer=transformer,
    )
    pipe.save_pretrained(folder)
    return Path(folder)


def build_tiny_wan_lora(folder: Path) -> Path:
    """A random LoRA (rank 4) for the tiny Wan transformer's attention projections.

    Returns the .safetensors file, written by WanPipeline.save_lora_weights the way a
    trained LoRA is shipped. The B matrices are random (not zero), so it changes the output.
    """
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    transformer = _wan_transformer(in_channels=16, image_dim=None)
    torch.manual_seed(1)
    transformer.add_adapter(
        LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights=False)
    )
    weight_name = "tiny_wan_lora.safetensors"
    WanPipeline.save_lora_weights(
        folder, transformer_lora_layers=get_peft_model_state_dict(transformer), weight_name=weight_name
    )
    return Path(folder) / weight_name
