"""Ratios, the printed table and benchmarks/RESULTS.md from the measurements of run.py."""

from __future__ import annotations

import contextlib
import platform
import time
from importlib import metadata
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from parasim.trainer import cpu_has_fast_bf16

TOLERANCE_LOSS = 1e-6
TOLERANCE_SCORE = 0.01
PACKAGES = ("torch", "transformers", "sentence-transformers", "lightning", "numpy", "parasim")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def cpu_flags() -> str:
    text = Path("/proc/cpuinfo").read_text()
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni", "avx_vnni")
    return ", ".join(f"{f} {'yes' if f' {f}' in text else 'no'}" for f in wanted)


def summary(r: dict) -> dict:
    """Every figure of the issue's table: value, target, met, note; and the closing JSON line."""
    loss_gap = abs(r["loss_peer"] - r["loss_parasim"])
    bf16_gap = abs(r["loss_bf16"] - r["loss_parasim"]) if "train_bf16" in r else None
    score_gap = float(np.max(np.abs(r["score_peer_values"] - r["score_parasim_values"])))
    int8_gap = float(np.max(np.abs(r["score_parasim_values"] - r["score_int8_values"])))
    peer, ours = r["train_peer"], r["train_parasim"]
    train = ours.pairs_per_s / peer.pairs_per_s
    train_cpu = (peer.cpu / peer.pairs) / (ours.cpu / ours.pairs)
    bf16 = r["train_bf16"].pairs_per_s / peer.pairs_per_s if "train_bf16" in r else None
    padding = ours.extra["real_tokens"] / ours.extra["padded_tokens"]
    scoring = r["score_parasim"].pairs_per_s / r["score_peer"].pairs_per_s
    rss = r["rss_parasim"] / r["rss_peer"]
    growth = r["growth"]
    linearity = [g["s_per_pair"] / g["factor"] / growth[0]["s_per_pair"] for g in growth]
    rows = [
        ("training pairs/s, fp32, batch 4", train, "≥ 2.0", train >= 2.0 and loss_gap <= TOLERANCE_LOSS,
         f"loss |Δ| {loss_gap:.1e} (≤ 1e-6); CPU-time ratio {train_cpu:.2f}"),
        *([("training pairs/s, bf16-mixed vs peer fp32", bf16, "≥ 3.5", bf16 >= 3.5,
            f"bf16 loss {r['loss_bf16']:.6f} vs fp32 {r['loss_parasim']:.6f} (|Δ| {bf16_gap:.1e}); "
            f"bf16 ÷ fp32 step speed {r['train_bf16'].pairs_per_s / r['step_fp32'].pairs_per_s:.2f}")]
          if bf16 is not None else []),
        ("padding efficiency (real / encoder tokens)", padding, "≥ 0.95", padding >= 0.95,
         "PairBatch.real_tokens / padded_tokens over the training batches"),
        ("scoring pairs/s (no gradients)", scoring, "≥ 4", scoring >= 4 and score_gap <= TOLERANCE_SCORE,
         f"max |ΔF1| vs peer {score_gap:.1e}"),
        ("peak RSS while training, fp32 (parasim / peer)", rss, "≤ 1.0", rss <= 1.0,
         f"{r['rss_parasim']:.0f} vs {r['rss_peer']:.0f} MiB (VmHWM, one child process per side)"),
        (f"cost growth: time per pair ÷ factor at {growth[-1]['factor']}× / 1×", linearity[-1], "≈ 1 (linear)",
         0.75 <= linearity[-1] <= 1.25, " / ".join(f"{g['factor']}×: {g['s_per_pair']:.2f} s/pair" for g in growth)),
    ]
    json_line = {
        "train_fp32_ratio": round(train, 3), "train_fp32_cpu_time_ratio": round(train_cpu, 3),
        "train_bf16_ratio": round(bf16, 3) if bf16 is not None else None,
        "padding_efficiency": round(padding, 4), "scoring_ratio": round(scoring, 3),
        "rss_ratio": round(rss, 3), "loss_abs_diff": loss_gap, "bf16_loss_abs_diff": bf16_gap,
        "score_max_abs_diff": score_gap, "growth_linearity_4x": round(linearity[-1], 3),
        "int8_scoring_ratio": round(r["score_int8"].pairs_per_s / r["score_peer"].pairs_per_s, 3),
        "int8_score_max_abs_diff": round(int8_gap, 4), "threads": r["threads"], "total_s": round(r["total_s"], 1),
    }
    return {"rows": rows, "json": json_line, "int8_gap": int8_gap, "linearity": linearity}


def print_table(s: dict) -> None:
    table = Table(title="parasim / peer")
    for column in ("figure", "ratio", "target", "met", "note"):
        table.add_column(column)
    for name, value, target, met, note in s["rows"]:
        table.add_row(name, f"{value:.3f}", target, "yes" if met else "NO", note)
    Console(width=200).print(table)


def _versions() -> str:
    out = [f"python {platform.python_version()}"]
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out.append(f"{name} {metadata.version(name)}")
    return ", ".join(out)


def _rounds(pairs_per_s: list[float]) -> str:
    return " / ".join(f"{x:.3f}" for x in pairs_per_s)


def markdown(r: dict, s: dict) -> str:
    def t(timing) -> str:
        return (f"{timing.pairs_per_s:.3f} pairs/s ({timing.pairs} pairs, {timing.wall:.1f} s wall, "
                f"{timing.cpu:.1f} s CPU)")

    lines = [
        "# parasim vs the peer — latest `python benchmarks/run.py`", "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}; total {r['total_s']:.0f} s",
        f"- CPU: {cpu_model()}; torch threads per side: {r['threads']}; flags: {cpu_flags()}; "
        f"native bf16: {'yes' if cpu_has_fast_bf16() else 'no'}",
        f"- load average (1/5/15 min) before: {'/'.join(f'{x:.2f}' for x in r['load_before'])}, "
        f"after: {'/'.join(f'{x:.2f}' for x in r['load_after'])} — this run adds about its thread count; "
        "more means other jobs shared the cores",
        f"- versions: {_versions()}",
        "- data: paragraph pairs of the default data (MTMP-PAN, 2–4 sentences per paragraph), train split for "
        "training, test split for scoring; weights: all-mpnet-base-v2 from the local cache; batch 4; SGD lr 5e-5, "
        "constant, clip 2.0",
        "- side-by-side rows (training, scoring) run in interleaved rounds (the first side alternates); each side's "
        "fastest round is used, every round is listed under Raw figures",
        "- GPU: no GPU in this session — the GPU row (peer vs parasim at 16-mixed, batch 64 tokens/s and MFU) is open.",
        "", "## Targets", "", "| figure | ratio | target | met | note |", "|---|---|---|---|---|",
    ]
    lines += [f"| {n} | {v:.3f} | {tg} | {'yes' if m else '**no**'} | {note.replace('|', chr(92) + '|')} |"
              for n, v, tg, m, note in s["rows"]]
    lines += ["", "## Raw figures", "", "| row | peer | parasim |", "|---|---|---|",
              f"| train fp32 (fastest round) | {t(r['train_peer'])} | {t(r['train_parasim'])} |",
              "| train fp32, pairs/s of every round | {} | {} |".format(*map(_rounds, r["train_rounds"])),
              f"| one step, dropout off, fp32 (plain loop) | | {t(r['step_fp32'])} |",
              f"| one step, dropout off, bf16-mixed (plain loop) | (bf16 target is vs peer fp32) | "
              f"{t(r['train_bf16']) if 'train_bf16' in r else 'not run: no native bf16 on this CPU'} |",
              f"| scoring SE-F1 (fastest round) | {t(r['score_peer'])} | {t(r['score_parasim'])} |",
              "| scoring, pairs/s of every round | {} | {} |".format(*map(_rounds, r["score_rounds"])),
              f"| scoring, int8 dynamic (rejected) | | {t(r['score_int8'])}; max abs ΔF1 vs fp32 {s['int8_gap']:.3f} |",
              f"| loss, one batch, dropout off | {r['loss_peer']:.9f} | {r['loss_parasim']:.9f} |",
              f"| peak RSS, fp32 training | {r['rss_peer']:.0f} MiB | {r['rss_parasim']:.0f} MiB |",
              "", "## Levers on the model's own cost (fwd + bwd + SGD in a plain loop, fp32)", "",
              "| variant | pairs/s | CPU s/pair | real/padded tokens |", "|---|---|---|---|"]
    for name, timing in r["ablation"].items():
        lines.append(f"| {name} | {timing.pairs_per_s:.3f} | {timing.cpu / timing.pairs:.2f} | "
                     f"{timing.extra['real_tokens'] / timing.extra['padded_tokens']:.3f} |")
    lines += ["", "## Cost growth (parasim, fp32 training, plain loop, the same sentences grouped into longer pairs)",
              "", "| sentences per paragraph | pairs | sentences per pair | tokens per pair | s per pair | "
              "s per pair ÷ factor (rel. to 1×) |", "|---|---|---|---|---|---|"]
    for g, lin in zip(r["growth"], s["linearity"], strict=True):
        lines.append(f"| {g['factor']}× | {g['pairs']} | {g['sentences_per_pair']:.1f} | {g['tokens_per_pair']:.0f} | "
                     f"{g['s_per_pair']:.3f} | {lin:.2f} |")
    share = r["profile_share"]
    lines += ["", "## Profile of one steady fp32 training step (torch.profiler, self CPU, after a warm-up step)", "",
              f"GEMMs (mm/addmm/bmm): {share['gemm']:.0%}; softmax: {share['softmax']:.0%}; dropout masks: "
              f"{share['dropout']:.0%}; the rest is element-wise work (residual adds, SGD update, LayerNorm, GELU).",
              "", "```", r["profile_table"], "```", ""]
    lines += [(HERE_NOTES).read_text()]
    return "\n".join(lines)


HERE_NOTES = Path(__file__).resolve().parent / "NOTES.md"
