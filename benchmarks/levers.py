"""Scoring rows, the levers tried on them, the cost-growth rows and the one-step profile."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence

import numpy as np
import torch

from parasim.data.records import PairRecord
from parasim.evaluation.scorers import score_texts
from parasim.losses import SEF1MSELoss
from parasim.models.encoder import SentenceEncoder
from sides import BATCH, Clock, Timing, prepared_items, train_steps


def parasim_score(encoder: SentenceEncoder, a: Sequence[str], b: Sequence[str]) -> tuple[np.ndarray, Timing]:
    """The scoring path of `parasim.score` (`score_texts`), SE-F1 only, as the peer computes."""
    clock = Clock()
    clock.start()
    scores = score_texts(encoder.eval(), a, b, ["sef1"])["sef1"]
    return scores, Timing(*clock.stop(), len(a))


def peer_score(model, a: Sequence[str], b: Sequence[str]) -> tuple[np.ndarray, Timing]:
    import peer

    clock = Clock()
    clock.start()
    scores = peer.score(model, a, b)
    return scores, Timing(*clock.stop(), len(a))


def int8_dynamic(encoder: SentenceEncoder) -> SentenceEncoder:
    """A copy with int8 dynamically quantised Linear layers (per-channel weights, fbgemm/x86 kernels)."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    quantised = copy.deepcopy(encoder).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its deprecation
        quantised.transformer = quantize_dynamic(quantised.transformer, {torch.nn.Linear: per_channel_dynamic_qconfig},
                                                 dtype=torch.qint8)
    return quantised


def _joined(records: Sequence[PairRecord], factor: int) -> list[PairRecord]:
    """Pairs made of `factor` consecutive pairs each, sides joined: `factor`× the sentences per paragraph."""
    return [PairRecord(" ".join(r.text_a for r in group), " ".join(r.text_b for r in group),
                       float(np.mean([r.label for r in group])), group[0].subset)
            for group in (records[i : i + factor] for i in range(0, len(records) - factor + 1, factor))]


def growth(encoder: SentenceEncoder, records: Sequence[PairRecord], factors: Sequence[int]) -> list[dict]:
    """Training time per pair at 1×, 2×, 4× … sentences per paragraph, over the same sentences.

    Every factor trains on the same `records` (their sentences joined `factor` at a time), so the
    work is identical and only its grouping into pairs changes: linear cost means time per pair ∝ factor.
    One batch of 1× pairs warms up first. Paragraphs are not cut at 384 tokens here, or the longer
    ones would lose sentences.
    """
    train_steps(encoder, records[:BATCH], paragraph_max_tokens=None, warmup=0)
    rows = []
    for factor in factors:
        timing = train_steps(encoder, _joined(records, factor), paragraph_max_tokens=None, warmup=0)
        rows.append({"factor": factor, "pairs": timing.pairs, "s_per_pair": timing.wall / timing.pairs,
                     "cpu_s_per_pair": timing.cpu / timing.pairs,
                     "sentences_per_pair": timing.extra["sentences"] / timing.pairs,
                     "tokens_per_pair": timing.extra["real_tokens"] / timing.pairs})
    return rows


GEMM_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::linear", "aten::matmul")
# torch's dropout mask; parasim's comparison and `where` (its NumPy draws are not profiled: models/kernels.py)
MASK_OPS = ("aten::bernoulli_", "aten::random_", "aten::ge", "aten::where")


def profile_step(encoder: SentenceEncoder, records: Sequence) -> tuple[str, dict[str, float]]:
    """torch.profiler over one steady fp32 training step (fwd + bwd + clip + SGD); the top-op table and shares.

    One unprofiled step on the same batch comes first: the first step's one-time costs (first touch of
    the gradient buffers, copy-on-write of the memory-mapped weights at the first update: ≈ 1.2 s of
    SGD `add_`) would otherwise read as per-step element-wise work.
    """
    from torch.profiler import ProfilerActivity, profile

    items, collator = prepared_items(records[:BATCH], encoder)
    batch = collator(items)
    loss_fn = SEF1MSELoss(encoder.train())
    optimizer = torch.optim.SGD(encoder.parameters(), lr=5e-5)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(batch, batch.labels).backward()
        torch.nn.utils.clip_grad_norm_(encoder.parameters(), 2.0)
        optimizer.step()

    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    averages = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in averages) or 1.0
    share = {
        "gemm": sum(e.self_cpu_time_total for e in averages if e.key in GEMM_OPS) / total,
        "softmax": sum(e.self_cpu_time_total for e in averages if "softmax" in e.key) / total,
        "dropout": sum(e.self_cpu_time_total for e in averages if e.key in MASK_OPS) / total,
    }
    table = averages.table(sort_by="self_cpu_time_total", row_limit=12, max_name_column_width=40)
    return table, share
