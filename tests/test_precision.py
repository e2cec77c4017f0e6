"""Mixed precision as on a GPU, checked on the CPU: scores in float32, masks in the compute dtype, float32 master
weights, and fp16 loss scaling that stops with a message instead of stalling."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.plugins.precision import MixedPrecision
from torch.utils.data import DataLoader

import parasim.models.packed as packed
from conftest import pair_batch, tiny
from parasim.callbacks import LossScaleStallError, NanGuard
from parasim.losses import SEF1MSELoss
from parasim.models.batching import Planner
from parasim.models.encoder import load_pretrained
from parasim.module import ParaphraseModule


def bf16_mixed() -> MixedPrecision:
    """The plugin `trainer.precision=bf16-mixed` gives a CPU run: its forward context is the training step's."""
    return MixedPrecision("bf16-mixed", "cpu")


def test_scores_are_computed_in_float32_under_bf16_mixed() -> None:
    """Two single-sentence pairs whose SE-F1 differ by 1e-4: bf16 (spacing 4e-3 below 1) would make them tie."""
    encoder = tiny()
    loss_fn = SEF1MSELoss(encoder)
    batch = pair_batch(encoder, [("The cat sat.", "The cat sat.", 1.0), ("The cat sat.", "A dog ran.", 0.0)])
    with torch.no_grad():
        embeddings = encoder.embed_chunks(batch.inputs)
    a = int(batch.a_index[1, 0])  # "The cat sat.", the shared sentence
    b = int(batch.b_index[1, 0])  # replaced by a vector at cosine 1 - 1e-4 to it
    other = torch.randn(encoder.dim, generator=torch.Generator().manual_seed(0))
    other = F.normalize(other - (other @ embeddings[a]) * embeddings[a], dim=0)  # orthogonal to the sentence
    angle = torch.acos(torch.tensor(1 - 1e-4, dtype=torch.float64)).float()
    embeddings[b] = torch.cos(angle) * embeddings[a] + torch.sin(angle) * other
    fp32 = loss_fn.score_embeddings(embeddings, batch)
    with bf16_mixed().forward_context():
        mixed = loss_fn.score_embeddings(embeddings, batch)
    assert float(fp32[0] - fp32[1]) == pytest.approx(1e-4, abs=1e-6)
    assert mixed.dtype == torch.float32
    assert float(mixed[0] - mixed[1]) == pytest.approx(1e-4, abs=1e-5)


def test_the_bf16_mixed_loss_is_within_1e_2_of_float32() -> None:
    encoder = tiny()
    batch = pair_batch(encoder)
    loss_fn = SEF1MSELoss(encoder)
    with torch.no_grad():
        fp32 = float(loss_fn(batch, batch.labels))
        with bf16_mixed().forward_context():
            mixed = float(loss_fn(batch, batch.labels))
    assert mixed == pytest.approx(fp32, abs=1e-2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_attention_masks_are_built_in_the_compute_dtype(dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under autocast the bias reaches attention in q's dtype and finite: float32's minimum cast to fp16 is −inf."""
    seen = []

    def spy(q, k, v, bias, p):
        seen.append((q.dtype, bias.dtype, bool(torch.isfinite(bias).all())))
        return packed_attend(q, k, v, bias, p)

    packed_attend = packed.attend
    monkeypatch.setattr(packed, "attend", spy)
    encoder = tiny()
    batch = pair_batch(encoder, min_fill=0.95)
    assert any(m is not None for m in batch.inputs.packing.masks)  # padded chunks: masked keys exist
    with torch.no_grad(), torch.autocast("cpu", dtype=dtype):
        out = encoder.embed_chunks(batch.inputs)
    assert torch.isfinite(out).all() and seen
    assert all(entry == (dtype, dtype, True) for entry in seen), seen


def test_master_weights_load_in_float32_from_an_fp16_checkpoint(tmp_path: Path) -> None:
    encoder = tiny()
    encoder.transformer.half().save_pretrained(tmp_path, safe_serialization=True)
    encoder.tokenizer.save_pretrained(tmp_path)
    loaded = load_pretrained(tmp_path)
    assert {p.dtype for p in loaded.parameters()} == {torch.float32}


def test_the_pooler_is_frozen_and_mean_pooling_leaves_it_without_a_gradient() -> None:
    encoder = tiny()
    batch = pair_batch(encoder)
    SEF1MSELoss(encoder)(batch, batch.labels).backward()
    pooler = dict(encoder.transformer.pooler.named_parameters())
    assert pooler and all(not p.requires_grad and p.grad is None for p in pooler.values())
    trainable = [n for n, p in encoder.named_parameters() if p.requires_grad]
    assert all(dict(encoder.named_parameters())[n].grad is not None for n in trainable)  # DDP needs every one


def fp16_run(tmp_path: Path, guard: NanGuard, init_scale: float, steps: int = 40) -> L.Trainer:
    """The ParaphraseModule trained under fp16 loss scaling on the CPU, with every gradient made infinite:
    the scaler skips every step, as when a model overflows fp16 at any scale."""
    encoder = tiny().train()
    for param in encoder.parameters():
        if param.requires_grad:
            param.register_hook(lambda grad: grad * float("inf"))
    module = ParaphraseModule(SEF1MSELoss(encoder), optimizer=partial(torch.optim.SGD, lr=1e-3))
    batch = pair_batch(encoder)
    items = [batch] * steps
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale)
    trainer = L.Trainer(accelerator="cpu", max_steps=steps, callbacks=[guard], default_root_dir=tmp_path,
                        plugins=[MixedPrecision("16-mixed", "cpu", scaler=scaler)], logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, train_dataloaders=DataLoader(items, batch_size=None, collate_fn=lambda b: b))
    return trainer


def test_fp16_loss_scaling_that_skips_every_step_stops_with_the_unscaled_loss(tmp_path: Path) -> None:
    with pytest.raises(LossScaleStallError) as stopped:
        fp16_run(tmp_path, NanGuard(max_skipped_steps=5), init_scale=2.0**16)
    message = str(stopped.value)
    assert "overflowed in 5 optimizer steps in a row" in message and "at step 4" in message
    loss = float(message.split("the unscaled loss is ")[1].split(" ")[0].rstrip(";"))
    assert 0.0 < loss <= 1.0  # an MSE of scores in [0, 1] against 0/1 labels, not the loss times 2**16
    assert (tmp_path / "checkpoints" / "last_good.ckpt").is_file()  # skipped steps left the weights intact


def test_fp16_loss_scale_below_one_stops(tmp_path: Path) -> None:
    with pytest.raises(LossScaleStallError, match="the loss scale fell to 0.5"):
        fp16_run(tmp_path, NanGuard(max_skipped_steps=100), init_scale=4.0)


def test_fp16_loss_scaling_that_recovers_trains_on(tmp_path: Path) -> None:
    """Overflow now and then is what the scaler is for: the guard lets such a run finish."""
    encoder = tiny().train()
    calls = {"n": 0}

    def overflow_every_third(grad: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        return grad * float("inf") if calls["n"] % 3 == 0 else grad

    encoder.transformer.embeddings.word_embeddings.weight.register_hook(overflow_every_third)
    module = ParaphraseModule(SEF1MSELoss(encoder), optimizer=partial(torch.optim.SGD, lr=1e-3))
    batch = pair_batch(encoder)
    trainer = L.Trainer(accelerator="cpu", max_steps=9, callbacks=[NanGuard(max_skipped_steps=2)],
                        default_root_dir=tmp_path, logger=False, enable_checkpointing=False,
                        plugins=[MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))],
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, train_dataloaders=DataLoader([batch] * 9, batch_size=None, collate_fn=lambda b: b))
    assert trainer.global_step == 9 and trainer.precision_plugin.scaler.get_scale() == 2.0**16 / 2**3


def test_planner_lays_out_nothing_for_no_sentences() -> None:
    inputs, rows = Planner(1)([])
    assert inputs.rows == 0 and rows.numel() == 0 and inputs.packing.shapes == []
