"""Both sides of every benchmark row, on the same records, weights and settings.

parasim trains through the real `ParaphraseModule` + Lightning `Trainer`; the peer through
sentence-transformers' `SentenceTransformerTrainer` (benchmarks/peer.py). Each returns wall and
process-CPU seconds: the CPU figure is steadier when other jobs share the machine.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import lightning as L
import torch
from torch.utils.data import DataLoader

from parasim.data.collate import PairCollator
from parasim.data.prepare import prepare
from parasim.data.records import PairRecord
from parasim.losses import SEF1MSELoss
from parasim.models.batching import PairBatch
from parasim.models.encoder import SentenceEncoder, load_pretrained
from parasim.module import ParaphraseModule
from parasim.schedulers import constant
from parasim.weights import model_dir

BATCH = 4
PARAGRAPH_MAX_TOKENS = 384  # the peer decodes 384-token-capped paragraphs; parasim reproduces that here


@dataclass
class Timing:
    wall: float
    cpu: float
    pairs: int
    extra: dict = field(default_factory=dict)

    @property
    def pairs_per_s(self) -> float:
        return self.pairs / self.wall


class Clock:
    """Wall and CPU time between start() and stop()."""

    def start(self) -> None:
        _sync()
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        _sync()
        return time.perf_counter() - self.wall0, time.process_time() - self.cpu0


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()  # GPU work is asynchronous: a clock reads only what has finished


class CountingCollator(PairCollator):
    """PairCollator that adds up real and padded tokens of every batch it builds, and the model's attention work
    (Σ length² over its sentences: the score and value matmuls of a layer cost 4·hidden FLOPs per unit)."""

    real = 0
    padded = 0
    attention = 0

    def __call__(self, items) -> PairBatch:
        batch = super().__call__(items)
        self.real += batch.real_tokens
        self.padded += batch.padded_tokens
        self.attention += attention_units(batch)
        return batch


def attention_units(batch: PairBatch) -> int:
    """Σ length² over the batch's sentences: (query, key) pairs of real tokens, padding not counted."""
    inputs = batch.inputs
    lengths = inputs.packing.lengths if inputs.packing is not None else torch.cat([m.sum(1) for _, m in inputs.chunks])
    return int((lengths.long() ** 2).sum())


def prepared_items(records: Sequence[PairRecord], encoder: SentenceEncoder, min_fill: float | None = None,
                   paragraph_max_tokens: int | None = PARAGRAPH_MAX_TOKENS) -> tuple[list, CountingCollator]:
    """Pair items and a collator from parasim's pre-processing (split + tokenize once), laid out by the
    encoder's own planner (`min_fill` overrides its device-dependent chunk fill)."""
    corpus = prepare({"train": list(records)}, encoder.tokenizer, unit="sentences",
                     max_seq_length=encoder.max_seq_length, paragraph_max_tokens=paragraph_max_tokens)
    split = corpus.splits["train"]
    items = [(split.a[i], split.b[i], float(split.labels[i]), int(split.subsets[i]), i) for i in range(len(split))]
    if min_fill is not None:
        encoder.planner.min_fill = min_fill
    return items, CountingCollator(corpus.units, encoder.planner)


class _LightningClock(L.Callback):
    """From the end of the first (warm-up) step to the end of training, as the peer's clock."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.elapsed = (0.0, 0.0)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if batch_idx == 0:
            self.clock.start()

    def on_train_end(self, trainer, pl_module) -> None:
        self.elapsed = self.clock.stop()


def parasim_train(records: Sequence[PairRecord], precision: str = "32-true", path: str | None = None,
                  accelerator: str = "cpu", batch: int = BATCH) -> Timing:
    """One epoch over `records` in order at the seed's settings through the real Lightning Trainer.

    The first batch is the warm-up (one-time allocations, kernel set-up): timing and the padding count
    start after it, as on the peer's side, which trains on the same batches in the same order.
    """
    encoder = load_pretrained(path or model_dir())
    items, collator = prepared_items(records, encoder)
    loader = DataLoader(items, batch_size=batch, shuffle=False, collate_fn=collator)
    module = ParaphraseModule(SEF1MSELoss(encoder), optimizer=partial(torch.optim.SGD, lr=5e-5, momentum=0.0),
                              scheduler=constant)
    timer = _LightningClock()
    trainer = L.Trainer(accelerator=accelerator, devices=1, precision=precision, max_epochs=1, gradient_clip_val=2.0,
                        gradient_clip_algorithm="norm", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
                        num_sanity_val_steps=0, limit_val_batches=0)
    trainer.fit(module, train_dataloaders=loader)
    wall, cpu = timer.elapsed
    timed = [collator(items[i : i + batch]) for i in range(batch, len(items), batch)]  # the batches after warm-up
    return Timing(wall, cpu, len(items) - batch, {"real_tokens": collator.real, "padded_tokens": collator.padded,
                                                  "timed_real_tokens": sum(b.real_tokens for b in timed),
                                                  "timed_attention_units": sum(attention_units(b) for b in timed)})


def peer_train(records: Sequence[PairRecord], path: str | None = None, device: str = "cpu",
               fp16: bool = False) -> Timing:
    import peer

    model = peer.load(path or model_dir(), device)
    with tempfile.TemporaryDirectory(prefix="peer-train-") as out:
        clock = peer.train(model, [r.text_a for r in records], [r.text_b for r in records],
                           [r.label for r in records], out, batch_size=BATCH, fp16=fp16)
    return Timing(clock.elapsed[0], clock.elapsed[1], len(records) - BATCH)  # the first batch is the warm-up


def step_without_dropout(records: Sequence[PairRecord], bf16: bool = False) -> tuple[float, Timing]:
    """One training step (fwd + bwd + clip + SGD) on one batch in eval mode (dropout off): its loss and time.

    The loss is the dropout-off SEF1MSE the peer must match; under bf16 autocast it shows how far
    bf16 moves the loss, and the time is the bf16 training speed on this CPU.
    """
    encoder = load_pretrained(model_dir()).eval()
    items, collator = prepared_items(records, encoder)
    batch = collator(items)
    optimizer = torch.optim.SGD(encoder.parameters(), lr=5e-5)
    clock = Clock()
    clock.start()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = SEF1MSELoss(encoder)(batch, batch.labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(encoder.parameters(), 2.0)
    optimizer.step()
    return float(loss.detach()), Timing(*clock.stop(), len(batch))


def peer_loss(records: Sequence[PairRecord]) -> float:
    import peer

    model = peer.load(model_dir()).eval()
    features = [model.preprocess([r.text_a for r in records]), model.preprocess([r.text_b for r in records])]
    labels = torch.tensor([r.label for r in records], dtype=torch.float32)
    with torch.no_grad():
        return float(peer.PeerSEF1MSE(model)(features, labels))


def train_steps(encoder: SentenceEncoder, records: Sequence[PairRecord], min_fill: float | None = None,
                paragraph_max_tokens: int | None = PARAGRAPH_MAX_TOKENS, warmup: int = 1) -> Timing:
    """fwd + bwd + SGD step per batch in a plain loop (no Trainer): the model's own cost per pair."""
    items, collator = prepared_items(records, encoder, min_fill, paragraph_max_tokens)
    batches = [collator(items[i : i + BATCH]) for i in range(0, len(items), BATCH)]
    loss_fn = SEF1MSELoss(encoder.train())
    optimizer = torch.optim.SGD(encoder.parameters(), lr=5e-5)
    clock = Clock()
    for i, batch in enumerate(batches):
        if i == warmup:
            clock.start()
        optimizer.zero_grad(set_to_none=True)
        loss_fn(batch, batch.labels).backward()
        torch.nn.utils.clip_grad_norm_(encoder.parameters(), 2.0)
        optimizer.step()
    wall, cpu = clock.stop()
    measured = batches[warmup:]
    return Timing(wall, cpu, sum(len(b) for b in measured),
                  {"real_tokens": sum(b.real_tokens for b in measured),
                   "padded_tokens": sum(b.padded_tokens for b in measured),
                   "sentences": sum(int((b.a_index >= 0).sum() + (b.b_index >= 0).sum()) for b in measured)})
