"""The GPU row: peer vs parasim at the seed's settings (16-mixed, batch 4), and parasim at batch 64 with
tokens/s and model FLOPs utilisation. One prepared script for a lent H200: `benchmarks/gpu_run.sh` runs it.

Speed does not depend on the weights, so both sides load the same random weights at all-mpnet-base-v2's
architecture, built from the model folder's config and tokenizer files (`--model-files`, the weights cache by
default). A GPU machine lacks the cache: `python benchmarks/gpu.py --kit benchmarks/.kit` copies those small
files (no weights) into a folder to carry, and `benchmarks/gpu_run.sh` is the command to run there. Training
figures are steady state, as in run.py: same batches in the same order, each side's first step is the warm-up.
Ends with one JSON line; `--output` also writes it to a file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import MPNetConfig, MPNetModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sides  # noqa: E402
from parasim.weights import model_dir  # noqa: E402
from run import data  # noqa: E402

WEIGHT_FILES = ("*.safetensors", "*.bin", "*.onnx", "*.pt", "onnx", "openvino")
DENSE_16BIT_TFLOPS = 989.0  # fp16/bf16 dense tensor-core peak of an H100/H200 SXM (the MFU denominator)


def kit(destination: Path, source: Path) -> Path:
    """Copy the model folder without its weights: what a random-init copy needs (config, tokenizer, ST files)."""
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(*WEIGHT_FILES), dirs_exist_ok=True)
    return destination


def random_model(files: Path, destination: Path, seed: int = 0) -> tuple[int, MPNetConfig]:
    """A sentence-transformers folder with freshly initialised MPNet weights; returns the parameters whose matmuls
    every token pays for (not the embedding tables, which are lookups, nor the pooler, which mean pooling leaves
    unused) and the config."""
    kit(destination, files)
    torch.manual_seed(seed)
    config = MPNetConfig.from_pretrained(files)
    model = MPNetModel(config)  # with the pooler, like the real checkpoint
    model.save_pretrained(destination, safe_serialization=True)
    skipped = ("pooler.", "embeddings.word_embeddings.", "embeddings.position_embeddings.")
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith(skipped)), config


def model_flops(params: int, config: MPNetConfig, tokens: int, attention_units: int) -> float:
    """Training FLOPs (forward 1×, backward 2×): 6 per matmul parameter per token, plus attention's score and
    value matmuls, 4·hidden FLOPs forward per (query, key) pair of real tokens in each layer (Σ length²)."""
    return 6.0 * params * tokens + 12.0 * config.num_hidden_layers * config.hidden_size * attention_units


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", type=Path, help="only copy the weight-less model files into this folder, then stop")
    parser.add_argument("--model-files", type=Path, default=None, help="model folder (default: the weights cache)")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="cpu: a smoke run of the code path")
    parser.add_argument("--precision", default="16-mixed", help="Lightning precision (peer: fp16 AMP)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps at batch 4 (after one warm-up step)")
    parser.add_argument("--large-batch", type=int, default=64)
    parser.add_argument("--large-steps", type=int, default=10, help="timed steps at the large batch")
    parser.add_argument("--peak-tflops", type=float, default=DENSE_16BIT_TFLOPS)
    parser.add_argument("--output", type=Path, help="also write the JSON line here")
    args = parser.parse_args()

    files = args.model_files or model_dir()
    if args.kit:
        print(f"copied the model files (no weights) to {kit(args.kit, files)}")
        return
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("error: no CUDA device; use --device cpu for a smoke run")
    train, _ = data()
    need = sides.BATCH * (args.steps + 1)
    need_large = args.large_batch * (args.large_steps + 1)
    if max(need, need_large) > len(train):
        sys.exit(f"error: {max(need, need_large)} pairs needed, the default train split has {len(train)}")
    accelerator = "gpu" if args.device == "cuda" else "cpu"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="parasim-random-mpnet-") as folder:
        params, config = random_model(files, Path(folder))
        path = str(folder)
        print(f"random all-mpnet-base-v2-shaped model: {params / 1e6:.1f} M matmul parameters", flush=True)
        peer = sides.peer_train(train[:need], path=path, device=args.device, fp16=args.precision == "16-mixed")
        ours = sides.parasim_train(train[:need], args.precision, path=path, accelerator=accelerator)
        print(f"batch {sides.BATCH}, {args.precision}: peer {peer.pairs_per_s:.2f} pairs/s, "
              f"parasim {ours.pairs_per_s:.2f} pairs/s", flush=True)
        large = sides.parasim_train(train[:need_large], args.precision, path=path, accelerator=accelerator,
                                    batch=args.large_batch)
    tokens_per_s = large.extra["timed_real_tokens"] / large.wall
    flops = model_flops(params, config, large.extra["timed_real_tokens"], large.extra["timed_attention_units"])
    result = {
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "precision": args.precision,
        "peer_pairs_per_s": round(peer.pairs_per_s, 3),
        "parasim_pairs_per_s": round(ours.pairs_per_s, 3),
        "gpu_train_ratio": round(ours.pairs_per_s / peer.pairs_per_s, 3),
        "gpu_train_ratio_target": 10.0,
        "large_batch": args.large_batch,
        "large_batch_pairs_per_s": round(large.pairs_per_s, 3),
        "large_batch_tokens_per_s": round(tokens_per_s, 1),
        "mfu": round(flops / large.wall / (args.peak_tflops * 1e12), 5),
        "mfu_target": 0.40,
        "peak_tflops": args.peak_tflops,
        "parameters": params,
        "versions": {"torch": torch.__version__},
        "total_s": round(time.perf_counter() - started, 1),
    }
    print(f"batch {args.large_batch}: {tokens_per_s:,.0f} tokens/s, MFU {result['mfu']:.1%} of "
          f"{args.peak_tflops:g} TFLOP/s (target ≥ 40 %); ratio at batch {sides.BATCH}: "
          f"{result['gpu_train_ratio']:.2f}× (target ≥ 10)")
    line = json.dumps(result)
    print(line)
    if args.output:
        args.output.write_text(line + "\n")


if __name__ == "__main__":
    main()
