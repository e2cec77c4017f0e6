"""On a CUDA GPU: what the CPU tests cannot prove. Skipped without one; `benchmarks/gpu_run.sh` runs this file
on a lent GPU machine (no weights there: the model is all-mpnet-base-v2's architecture and tokenizer with random
weights, `PARASIM_MODEL_FILES` names the weight-less model folder that `make gpu-kit` prepares).

- the packed forward equals HF's MPNet forward (loss and gradients, no NaN) in fp32 and fp16, with every SDPA
  backend that takes an additive float mask;
- 20 steps of 16-mixed with dropout: finite losses, and a loss scale that stays ≥ 1;
- the training forward makes no CUDA sync (`torch.cuda.set_sync_debug_mode`);
- the CLI end to end (`experiment=seed_card trainer=gpu`, 10 steps): calibration on the GPU, and an export that
  sentence-transformers loads on CUDA and that embeds as parasim does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.plugins.precision import MixedPrecision
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import MPNetConfig, MPNetModel

from conftest import ROOT, pair_batch
from parasim.callbacks import NanGuard
from parasim.corpora import corpus_path
from parasim.data.mtmp_pan import build_splits
from parasim.losses import SEF1MSELoss
from parasim.models.encoder import load_pretrained
from parasim.module import ParaphraseModule
from parasim.weights import model_dir
from test_fast_paths import assert_same_gradients

DEVICE = os.environ.get("PARASIM_TEST_DEVICE", "cuda")  # `cpu`: a smoke run of this file's code paths
pytestmark = pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(),
                                reason="needs a CUDA GPU (benchmarks/gpu_run.sh)")
WEIGHT_FILES = ("*.safetensors", "*.bin", "*.onnx", "*.pt", "onnx", "openvino")
BACKENDS = {"math": SDPBackend.MATH, "efficient": SDPBackend.EFFICIENT_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}


@pytest.fixture(scope="module")
def random_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """all-mpnet-base-v2's files (config, tokenizer, sentence-transformers configs) with random weights."""
    files = Path(os.environ.get("PARASIM_MODEL_FILES") or model_dir())
    folder = tmp_path_factory.mktemp("random-mpnet")
    shutil.copytree(files, folder, ignore=shutil.ignore_patterns(*WEIGHT_FILES), dirs_exist_ok=True)
    torch.manual_seed(0)
    smoke = {} if DEVICE == "cuda" else {"num_hidden_layers": 1}  # a CPU smoke run: one layer is enough
    MPNetModel(MPNetConfig.from_pretrained(files, **smoke)).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def pairs() -> list[tuple[str, str, float]]:
    train = build_splits(corpus_path("mtmp_pan"), seed=0, min_k=2, max_k=4)["train"]
    return [(r.text_a, r.text_b, r.label) for r in train]


def loss_and_grads(path: Path, pairs, packed: bool, dtype: torch.dtype | None):
    encoder = load_pretrained(path, packed=packed).eval().to(DEVICE)
    batch = pair_batch(encoder, pairs[:8]).to(DEVICE)
    with torch.autocast(DEVICE, dtype=dtype or torch.float32, enabled=dtype is not None):
        loss = SEF1MSELoss(encoder)(batch, batch.labels)
    loss.backward()
    return loss.detach().float(), {n: p.grad.float() for n, p in encoder.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("dtype", [None, torch.float16], ids=["fp32", "fp16"])
def test_packed_equals_plain_per_sdpa_backend(random_model: Path, pairs, backend: str, dtype) -> None:
    plain_loss, plain_grads = loss_and_grads(random_model, pairs, False, dtype)  # HF's eager MPNet: no SDPA
    try:
        with sdpa_kernel([BACKENDS[backend]]):
            packed_loss, packed_grads = loss_and_grads(random_model, pairs, True, dtype)
    except RuntimeError as err:
        if "No available kernel" in str(err) or "No viable backend" in str(err):
            pytest.skip(f"SDPA backend {backend} takes no float mask here ({str(err).splitlines()[0]})")
        raise
    assert torch.isfinite(packed_loss) and all(torch.isfinite(g).all() for g in packed_grads.values())
    print(f"\n{backend} {'fp16' if dtype else 'fp32'}: loss packed {float(packed_loss):.7f}, "
          f"plain {float(plain_loss):.7f}")
    tolerance = 1e-5 if dtype is None else 2e-3
    assert float(packed_loss) == pytest.approx(float(plain_loss), abs=tolerance)
    if dtype is None:
        assert_same_gradients(packed_grads, plain_grads)


def test_16_mixed_with_dropout_stays_finite_and_keeps_a_loss_scale_of_at_least_one(random_model: Path, pairs,
                                                                                  tmp_path: Path) -> None:
    encoder = load_pretrained(random_model).train()
    module = ParaphraseModule(SEF1MSELoss(encoder), optimizer=partial(torch.optim.SGD, lr=5e-5))
    batches = [pair_batch(encoder, pairs[i : i + 4]) for i in range(0, 80, 4)]
    losses: list[float] = []

    class Losses(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            losses.append(float(outputs["loss"]))

    fp16 = MixedPrecision("16-mixed", DEVICE, scaler=torch.amp.GradScaler(DEVICE))  # = precision="16-mixed" on CUDA
    trainer = L.Trainer(accelerator="gpu" if DEVICE == "cuda" else "cpu", devices=1, plugins=[fp16], max_steps=20,
                        logger=False, callbacks=[NanGuard(), Losses()], enable_checkpointing=False,
                        enable_progress_bar=False, gradient_clip_val=2.0, default_root_dir=tmp_path)
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None,
                                                                      collate_fn=lambda b: b))
    scale = trainer.precision_plugin.scaler.get_scale()
    print(f"\n16-mixed, 20 steps: losses {losses[0]:.4f} … {losses[-1]:.4f}, loss scale {scale:g}")
    assert len(losses) == 20 and all(torch.isfinite(torch.tensor(losses)))
    assert scale >= 1.0


@pytest.mark.skipif(DEVICE != "cuda", reason="CUDA's sync debug mode")
def test_the_training_forward_makes_no_cuda_sync(random_model: Path, pairs) -> None:
    encoder = load_pretrained(random_model).train().cuda()  # dropout on: torch's CUDA dropout
    loss_fn = SEF1MSELoss(encoder)
    batch = pair_batch(encoder, pairs[:4]).pin_memory().to("cuda", non_blocking=True)
    loss_fn(batch, batch.labels)  # warm-up: first calls may initialise handles
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught, torch.autocast("cuda", dtype=torch.float16):
            warnings.simplefilter("always")
            loss = loss_fn(batch, batch.labels)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [str(w.message) for w in caught if "synchroniz" in str(w.message)]
    print(f"\nCUDA syncs in one training forward: {len(syncs)}")
    assert syncs == [] and torch.isfinite(loss)


def test_cli_seed_card_on_gpu_end_to_end(random_model: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    on = ["trainer=gpu"] if DEVICE == "cuda" else ["trainer=cpu", "trainer.precision=32-true"]
    result = subprocess.run(
        [sys.executable, "scripts/train.py", "experiment=seed_card", *on, "trainer.max_steps=10",
         f"model.path={random_model}", "logger=csv", "eval_base=false", "data.limits.val=32", "data.limits.test=32",
         f"hydra.run.dir={run}", f"data.cache_dir={tmp_path / 'prepared'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"calibration: scored 32 validation pairs on {DEVICE}" in result.stdout + result.stderr
    sentence_transformers = pytest.importorskip("sentence_transformers")
    sentences = ["The cat sat on the mat.", "A cat was sitting on the mat.", "Stocks fell sharply today."]
    theirs = sentence_transformers.SentenceTransformer(str(run / "export"), device=DEVICE).encode(
        sentences, convert_to_tensor=True)
    ours = load_pretrained(run / "export").eval().to(DEVICE).encode(sentences)
    cosine = torch.nn.functional.cosine_similarity(theirs.float(), ours.float(), dim=-1)
    print(f"\nexport loaded by sentence-transformers on {DEVICE}; min cosine to parasim's embeddings "
          f"{float(cosine.min()):.6f}")
    assert float(cosine.min()) > 0.9999
