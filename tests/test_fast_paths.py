"""The optimised paths give the values of the simple ones: packed MPNet forward, fill-bounded chunks, chunked encode;
and the packed forward gets every index from the collator and makes no host sync.

Behaviour only; the speed of these paths is measured by benchmarks/run.py, never asserted here.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch.overrides import TorchFunctionMode

from conftest import needs_weights, pair_batch, tiny
from parasim.losses import CosineMSELoss, SEF1MSELoss
from parasim.models.batching import CPU_MIN_FILL, CUDA_MIN_FILL, Planner, chunk_by_budget, group_by_budget
from parasim.models.encoder import load_pretrained
from parasim.weights import model_dir

SENTENCES = [
    "The cat sat.",
    "Stocks fell sharply today after the central bank raised its rates for the third time this year.",
    "A quick brown fox jumps over the lazy dog.",
    "Yes!",
    "The committee will meet again next week to discuss the budget.",
    "The committee meets next week to talk about the budget.",
    "Rain is coming, so bring a coat and an umbrella when you leave the house tonight.",
]


def embed(encoder, sentences=SENTENCES, min_fill: float = CPU_MIN_FILL, budget: int = 8192) -> torch.Tensor:
    """Embeddings in chunk order of `sentences` laid out for `encoder` (packed or not)."""
    planner = Planner(encoder.tokenizer.pad_token_id, budget, min_fill, encoder.packed)
    inputs, _ = planner(encoder.tokenize(sentences))
    return encoder.embed_chunks(inputs)


@pytest.mark.parametrize("min_fill", [0.0, 0.95, 1.0])
def test_packed_forward_equals_mpnet_forward(min_fill: float) -> None:
    encoder = tiny()
    packed = embed(encoder, min_fill=min_fill)
    encoder.packed = False
    plain = embed(encoder, min_fill=min_fill)
    assert packed.shape == (len(SENTENCES), encoder.dim)
    torch.testing.assert_close(packed, plain, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("loss_class", [SEF1MSELoss, CosineMSELoss])
def test_packed_false_gives_the_loss_and_gradients_of_packed_true(loss_class) -> None:
    """`model.packed=false` (HF's own forward per chunk) and `true`: same loss and gradients, dropout off."""
    results = []
    for packed in (True, False):
        encoder = tiny(packed)
        batch = pair_batch(encoder, min_fill=0.95)
        assert (batch.inputs.packing is not None) == packed and bool(batch.inputs.chunks) != packed
        loss = loss_class(encoder)(batch, batch.labels)
        loss.backward()
        grads = {n: p.grad for n, p in encoder.named_parameters() if p.grad is not None}
        results.append((loss.detach(), grads))
    (loss_packed, grads_packed), (loss_plain, grads_plain) = results
    assert abs(float(loss_packed) - float(loss_plain)) <= 1e-6
    assert_same_gradients(grads_packed, grads_plain)


def assert_same_gradients(ours: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> None:
    """Same parameters get gradients, each within 1e-4 of the largest reference gradient entry."""
    assert ours.keys() == reference.keys()
    scale = max(float(g.abs().max()) for g in reference.values())
    for name, grad in reference.items():
        torch.testing.assert_close(ours[name], grad, atol=1e-4 * scale, rtol=0, msg=name)


class SyncSpy(TorchFunctionMode):
    """Records every torch call that makes a GPU wait for the host or the host for the GPU (a "sync").

    On a CPU nothing waits, but the same calls would on CUDA: reading a value (`item`, `tolist`, `bool()`,
    `int()`), data-dependent shapes (`nonzero`, boolean-mask indexing, `masked_select`, `unique`,
    `repeat_interleave` without `output_size`), or a copy to the host.
    """

    SYNCING = {"item", "tolist", "__bool__", "__int__", "__float__", "__index__", "nonzero", "argwhere",
               "masked_select", "unique", "unique_consecutive", "cpu", "numpy"}

    def __init__(self) -> None:
        super().__init__()
        self.syncs: list[str] = []

    def __torch_function__(self, func: Callable, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        if name in self.SYNCING or name == "repeat_interleave" and "output_size" not in (kwargs or {}):
            self.syncs.append(name)
        if name in ("__getitem__", "__setitem__", "index_put_") and any(
                isinstance(a, torch.Tensor) and a.dtype == torch.bool for a in _flat(args[1:])):
            self.syncs.append(f"{name}[bool mask]")
        return func(*args, **(kwargs or {}))


def _flat(items) -> list:
    out = []
    for item in items:
        out += _flat(item) if isinstance(item, tuple | list) else [item]
    return out


def test_the_collator_ships_every_index_and_the_training_forward_makes_no_host_sync() -> None:
    """The training step's forward (packed encoder, SE-F1, MSE) on a collated batch. Dropout's rate is 0 here:
    on a CPU its mask takes one seed from torch's CPU generator (`kernels.keep_mask`), which waits for no
    device; on a GPU torch's own dropout runs (benchmarks/gpu_run.sh counts CUDA syncs there)."""
    encoder = tiny().train()
    for module in encoder.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    batch = pair_batch(encoder, min_fill=0.95)
    packing = batch.inputs.packing
    assert packing is not None and len(packing.shapes) > 1  # several chunks, all indices precomputed
    loss_fn = SEF1MSELoss(encoder)
    with SyncSpy() as spy:
        loss = loss_fn(batch, batch.labels)
    assert spy.syncs == []
    loss.backward()
    with SyncSpy() as detector:  # the spy does see syncs: the old way of finding the real tokens
        mask = torch.ones(2, 3, dtype=torch.bool)
        _ = torch.zeros(2, 3)[mask], bool(mask.all()), mask.nonzero()
    assert detector.syncs == ["__getitem__[bool mask]", "__bool__", "nonzero"]


def test_chunk_fill_follows_the_device_unless_set() -> None:
    encoder = tiny()
    assert encoder.planner.device_type == "cpu" and encoder.planner.fill == CPU_MIN_FILL
    encoder.to("meta")  # any move: the planner learns where its encoder now runs
    assert encoder.planner.device_type == "meta" and encoder.planner.fill == CUDA_MIN_FILL
    encoder.planner.min_fill = 0.5
    assert encoder.planner.fill == 0.5


def test_one_chunk_per_budget_at_zero_fill_and_the_same_loss() -> None:
    encoder = tiny()
    one_chunk, filled = pair_batch(encoder, min_fill=CUDA_MIN_FILL), pair_batch(encoder, min_fill=CPU_MIN_FILL)
    assert len(one_chunk.inputs.packing.shapes) == 1 < len(filled.inputs.packing.shapes)
    assert filled.real_tokens == one_chunk.real_tokens
    assert filled.real_tokens / filled.padded_tokens > one_chunk.real_tokens / one_chunk.padded_tokens
    loss = SEF1MSELoss(encoder)
    torch.testing.assert_close(loss(filled, filled.labels), loss(one_chunk, one_chunk.labels), atol=1e-6, rtol=0)


@pytest.mark.parametrize("packed", [True, False])
def test_a_batch_without_any_sentence_scores_zero(packed: bool) -> None:
    encoder = tiny(packed)
    batch = pair_batch(encoder, [("", "  ", 0.0), ("\n", "", 1.0)])
    assert batch.inputs.rows == 0
    loss_fn = SEF1MSELoss(encoder)
    assert loss_fn.score(batch).tolist() == [0.0, 0.0]
    assert float(loss_fn(batch, batch.labels)) == 0.5


@pytest.mark.parametrize("budget", [16, 64, 8192])
def test_chunks_respect_budget_fill_and_rows(budget: int) -> None:
    token_lists = [list(range(2, 2 + n)) for n in (9, 3, 30, 10, 10, 4, 28, 9, 2)]
    chunks, rows, padded = chunk_by_budget(token_lists, budget, pad_id=1, min_fill=0.9)
    flat = [row for ids, _ in chunks for row in ids.tolist()]
    for i, tokens in enumerate(token_lists):
        assert flat[int(rows[i])][: len(tokens)] == tokens
    for ids, mask in chunks:
        assert ids.numel() <= budget or ids.shape[0] == 1
        assert ids.shape[0] == 1 or mask.sum() / mask.numel() >= 0.9
    assert padded == sum(ids.numel() for ids, _ in chunks)


def test_chunked_encode_equals_one_by_one() -> None:
    encoder = tiny()
    encoder.planner.batch_tokens = 64
    chunked = encoder.encode(SENTENCES)
    token_lists = encoder.tokenize(SENTENCES)
    with torch.no_grad():
        singles = torch.cat([encoder(torch.tensor([t]), torch.ones(1, len(t), dtype=torch.long)) for t in token_lists])
    torch.testing.assert_close(chunked, singles, atol=1e-5, rtol=1e-5)


def test_packed_forward_applies_dropout_in_training() -> None:
    encoder = tiny()
    with torch.no_grad():
        assert torch.equal(embed(encoder), embed(encoder))
        encoder.train()
        assert not torch.allclose(embed(encoder), embed(encoder))


def test_packed_forward_runs_under_bf16_autocast_close_to_fp32() -> None:
    encoder = tiny()
    with torch.no_grad():
        fp32 = embed(encoder)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = embed(encoder)
    assert bf16.dtype == torch.float32 and torch.isfinite(bf16).all()
    assert float((fp32 * bf16).sum(dim=-1).min()) > 0.99


@needs_weights
def test_packed_real_model_matches_sentence_transformers() -> None:
    """all-mpnet-base-v2 through the packed path embeds as sentence-transformers' own encode does."""
    sentence_transformers = pytest.importorskip("sentence_transformers")
    encoder = load_pretrained(model_dir()).eval()
    with torch.no_grad():
        ours = encoder.encode(SENTENCES)
    reference = sentence_transformers.SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
    theirs = torch.as_tensor(reference.encode(SENTENCES, show_progress_bar=False))
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


def test_grouped_chunks_stay_within_budget_and_keep_order() -> None:
    chunks, _, _ = chunk_by_budget([list(range(n)) for n in (40, 30, 30, 12, 9, 5, 5, 3)], 64, pad_id=1)
    groups = group_by_budget(chunks, 64)
    assert [c for g in groups for c in g] == chunks
    assert all(sum(ids.numel() for ids, _ in g) <= 64 or len(g) == 1 for g in groups)

