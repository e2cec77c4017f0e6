"""The peer: what a user does today with sentence-transformers (shared/spec/SEF1.md, "The peer").

Training: `SentenceTransformerTrainer` with SGD lr 5e-5, constant LR, clip 2.0, batch 4, and a loss
that for each pair decodes the tokenized paragraphs back to text, splits them with the reference
splitter, embeds each paragraph's sentences in its own forward, computes F1 per pair and returns
MSE. Scoring: per pair, `SentenceTransformer.encode` on each paragraph's sentences, F1 in numpy.
Written here, not imported from parasim, except the splitter (the spec's reference splitter).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from torch import Tensor, nn
from torch.utils.data import BatchSampler, SequentialSampler
from transformers import TrainerCallback

from parasim.data.splitter import split_sentences

EPS = 1e-10


def load(path: str | Path, device: str = "cpu") -> SentenceTransformer:
    return SentenceTransformer(str(path), device=device, local_files_only=True)


def _now() -> tuple[float, float]:
    if torch.cuda.is_available():
        torch.cuda.synchronize()  # GPU work is asynchronous: a clock reads only what has finished
    return time.perf_counter(), time.process_time()


def pair_f1(emb_a: Tensor, emb_b: Tensor) -> Tensor:
    """SE-F1 of one pair from unit-length sentence embeddings (rows)."""
    sim = emb_a @ emb_b.T
    precision = sim.max(dim=0).values.clamp(min=0).mean()
    recall = sim.max(dim=1).values.clamp(min=0).mean()
    return 2 * precision * recall / (precision + recall + EPS)


class PeerSEF1MSE(nn.Module):
    """The reference loss: decode → split → one forward per paragraph → F1 per pair → MSE."""

    def __init__(self, model: SentenceTransformer) -> None:
        super().__init__()
        self.model = model
        self.mse = nn.MSELoss()

    def _embed(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor | None:
        text = self.model.tokenizer.decode(input_ids[attention_mask.bool()], skip_special_tokens=True)
        sentences = split_sentences(text)
        if not sentences:
            return None
        features = self.model.preprocess(sentences)
        features = {k: v.to(self.model.device) if isinstance(v, Tensor) else v for k, v in features.items()}
        return self.model(features)["sentence_embedding"]

    def scores(self, sentence_features: Iterable[dict[str, Tensor]]) -> Tensor:
        side_a, side_b = list(sentence_features)
        scores = []
        for i in range(side_a["input_ids"].shape[0]):
            emb_a = self._embed(side_a["input_ids"][i], side_a["attention_mask"][i])
            emb_b = self._embed(side_b["input_ids"][i], side_b["attention_mask"][i])
            if emb_a is None or emb_b is None:
                scores.append(torch.zeros((), requires_grad=True, device=self.model.device))
            else:
                scores.append(pair_f1(emb_a.float(), emb_b.float()))
        return torch.stack(scores)

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor) -> Tensor:
        return self.mse(self.scores(sentence_features), labels.float())

    def get_config_dict(self) -> dict:
        return {"inner": "MSELoss"}


class TrainClock(TrainerCallback):
    """Wall and process-CPU seconds from the end of the first (warm-up) step to the end of training."""

    elapsed = (0.0, 0.0)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 1:
            self.start = _now()

    def on_train_end(self, args, state, control, **kwargs):
        end = _now()
        self.elapsed = (end[0] - self.start[0], end[1] - self.start[1])


class InOrderTrainer(SentenceTransformerTrainer):
    """The stock trainer, with batches in dataset order so both sides train on the same batches."""

    def get_batch_sampler(self, dataset, batch_size: int, drop_last: bool, *args, **kwargs) -> BatchSampler:
        return BatchSampler(SequentialSampler(range(len(dataset))), batch_size, drop_last)


def train(model: SentenceTransformer, texts_a: Sequence[str], texts_b: Sequence[str], labels: Sequence[float],
          output_dir: str | Path, batch_size: int = 4, seed: int = 42, fp16: bool = False) -> TrainClock:
    """One epoch of the seed's settings over the given pairs, in order; returns its clock (first step excluded)."""
    from datasets import Dataset

    data = Dataset.from_dict({"text_a": list(texts_a), "text_b": list(texts_b), "label": list(labels)})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir), per_device_train_batch_size=batch_size, num_train_epochs=1,
        learning_rate=5e-5, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, max_grad_norm=2.0,
        use_cpu=model.device.type == "cpu", fp16=fp16, seed=seed, dataloader_pin_memory=False, report_to="none",
        save_strategy="no", logging_strategy="no", disable_tqdm=True,
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=5e-5, momentum=0.0, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    clock = TrainClock()
    trainer = InOrderTrainer(model=model, args=args, train_dataset=data, loss=PeerSEF1MSE(model),
                                         optimizers=(optimizer, scheduler), callbacks=[clock])
    trainer.train()
    return clock


def numpy_f1(emb_a: np.ndarray, emb_b: np.ndarray) -> float:
    sim = emb_a @ emb_b.T
    precision = float(np.maximum(sim.max(axis=0), 0).mean())
    recall = float(np.maximum(sim.max(axis=1), 0).mean())
    return 2 * precision * recall / (precision + recall + EPS)


def score(model: SentenceTransformer, texts_a: Sequence[str], texts_b: Sequence[str]) -> np.ndarray:
    """Scoring as a user writes it: per pair, encode each side's sentences, F1 in numpy."""
    out = np.zeros(len(texts_a), dtype=np.float64)
    for i, (text_a, text_b) in enumerate(zip(texts_a, texts_b, strict=True)):
        sentences_a, sentences_b = split_sentences(text_a), split_sentences(text_b)
        if sentences_a and sentences_b:
            out[i] = numpy_f1(model.encode(sentences_a, show_progress_bar=False),
                              model.encode(sentences_b, show_progress_bar=False))
    return out
