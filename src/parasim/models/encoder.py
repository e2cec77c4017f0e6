"""The sentence-transformers stack reimplemented as one nn.Module, loaded from a local directory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm
from transformers import (
    AutoConfig,
    AutoModel,
    AutoTokenizer,
    MPNetConfig,
    MPNetModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.models.auto.modeling_auto import MODEL_MAPPING

from parasim.errors import ParasimError
from parasim.models.batching import BATCH_TOKENS, EncoderInput, Planner
from parasim.models.packed import packed_hidden
from parasim.models.pooling import Pooling
from parasim.models.st_config import read_layout, token_cap

MAX_SEQ_LENGTH = 384


def freeze_pooler(transformer: nn.Module) -> None:
    """Keep the checkpoint's pooler (BERT-style dense + tanh on the first token, as BERT, RoBERTa and MPNet
    checkpoints carry it) out of training: sentence-transformers' mean and CLS pooling both read the last
    hidden states, never the pooler, so it gets no gradient, and DDP (find_unused_parameters=False) stops at
    the second step on a parameter without one. Frozen, it is skipped by DDP and the optimizer, and exported
    unchanged."""
    pooler = getattr(transformer, "pooler", None)
    if isinstance(pooler, nn.Module):
        pooler.requires_grad_(False)


class SentenceEncoder(nn.Module):
    """Transformer → pooling (mean or CLS, `pooling`) → L2 normalize, as a sentence-transformers model runs.

    `embed_chunks` embeds an `EncoderInput` that `planner` laid out (on the CPU, while batches are
    collated). With `packed` (MPNet only) it runs `parasim.models.packed`: the token-wise layers see only
    real tokens, all chunks of a batch at once, and no host sync happens; otherwise each chunk goes
    through the architecture's own forward (SDPA where transformers supports it). Both give the same
    embeddings (float rounding aside). `forward` embeds one padded batch with the architecture's forward.
    Scoring (SE-F1, cosine) always uses unit-length embeddings; `encode` returns what the model's own
    pipeline returns, i.e. unnormalised vectors for a model without a Normalize module (`pooling.normalize`).
    `name` is the base model the export's card names.
    """

    def __init__(self, transformer: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                 max_seq_length: int = MAX_SEQ_LENGTH, packed: bool = True, min_fill: float | None = None,
                 batch_tokens: int | None = None, pooling: Pooling | None = None, do_lower_case: bool = False,
                 name: str | None = None) -> None:
        super().__init__()
        self.transformer = transformer
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length
        self.pooling = pooling or Pooling()
        self.do_lower_case = do_lower_case
        self.name = name or type(transformer).__name__
        self.planner = Planner(tokenizer.pad_token_id, batch_tokens or BATCH_TOKENS, min_fill)
        self.packed = packed
        freeze_pooler(transformer)

    @property
    def packed(self) -> bool:
        return self.planner.packed

    @packed.setter
    def packed(self, value: bool) -> None:
        """The packed forward covers MPNet; any other architecture keeps its own forward."""
        self.planner.packed = bool(value) and isinstance(self.transformer, MPNetModel)

    @property
    def dim(self) -> int:
        return int(self.transformer.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> SentenceEncoder:
        """`.to()`, `.cuda()`, `.cpu()`: the planner follows the device (its chunking depends on it)."""
        out = super()._apply(fn, recurse)
        self.planner.device_type = self.device.type
        return out

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return F.normalize(self.pooling(hidden, attention_mask).float(), p=2, dim=-1)

    def embed_chunks(self, inputs: EncoderInput, unit: bool = True) -> torch.Tensor:
        """Float32 embeddings of all rows of `inputs`, in chunk order: unit length unless `unit` is False."""
        if inputs.rows == 0:  # every paragraph of the batch is empty: no rows, still part of the graph
            return self.transformer.get_input_embeddings().weight[:0].float()
        if inputs.packing is None:
            pooled = self._unpacked(inputs.chunks)
        else:
            pooled = self.pooling.packed(packed_hidden(self.transformer, inputs.packing), inputs.packing).float()
        return F.normalize(pooled, p=2, dim=-1) if unit else pooled

    def _unpacked(self, chunks: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """Each chunk through the architecture's own forward, after one word-embedding lookup for all chunks.

        Why one lookup: its backward writes a dense vocabulary × hidden gradient (30,522 × 384 floats, 47 MB, for
        MiniLM) once per lookup; a training batch of 4 paragraph pairs takes ≈ 14 chunks, and one lookup instead
        of 14 made a MiniLM step ≈ 20 % faster (1.75 → 1.4 s on one busy CPU thread). Position and token-type
        embeddings are added by the model as with `input_ids` (right padding keeps real tokens' positions).
        """
        sizes = [ids.numel() for ids, _ in chunks]
        words = self.transformer.get_input_embeddings()(torch.cat([ids.reshape(-1) for ids, _ in chunks]))
        out = []
        for (ids, mask), embedded in zip(chunks, words.split(sizes), strict=True):
            hidden = self.transformer(inputs_embeds=embedded.view(*ids.shape, -1), attention_mask=mask)
            out.append(self.pooling(hidden.last_hidden_state, mask).float())
        return torch.cat(out)

    def tokenize(self, sentences: Sequence[str]) -> list[list[int]]:
        """Token ids per sentence, special tokens included, truncated to `max_seq_length` (384 for MPNet)."""
        if not sentences:
            return []
        texts = [s.lower() for s in sentences] if self.do_lower_case else list(sentences)
        out = self.tokenizer(texts, truncation=True, max_length=self.max_seq_length, add_special_tokens=True)
        return out["input_ids"]

    @torch.no_grad()
    def encode_token_lists(self, token_lists: Sequence[Sequence[int]], progress: str | None = None,
                           unit: bool = True) -> torch.Tensor:
        """Embeddings (unit length unless `unit` is False) of `token_lists` in input order, without gradients or
        dropout, in length-sorted chunks of at most `planner.batch_tokens` padded tokens. `progress` names a
        tqdm bar counting texts."""
        if not token_lists:
            return torch.empty(0, self.dim)
        was_training = self.training
        self.eval()
        try:
            groups, rows = self.planner.groups(token_lists)
            out = []
            with tqdm(total=len(token_lists), desc=progress, unit="text", disable=progress is None) as bar:
                for inputs in groups:
                    out.append(self.embed_chunks(inputs.to(self.device), unit))
                    bar.update(inputs.rows)
            return torch.cat(out)[rows.to(self.device)]
        finally:
            self.train(was_training)

    def encode(self, sentences: Sequence[str], unit: bool | None = None) -> torch.Tensor:
        """Embed sentences without gradients or dropout (input order), as sentence-transformers' `encode` does:
        unit length when the model normalises (`unit=None`), or as `unit` says."""
        unit = self.pooling.normalize if unit is None else unit
        return self.encode_token_lists(self.tokenize(sentences), unit=unit)


def _attention_implementation(path: Path) -> str:
    """SDPA where transformers implements it for the architecture (BERT, RoBERTa); MPNet has eager only."""
    model_class = MODEL_MAPPING.get(type(AutoConfig.from_pretrained(path, local_files_only=True)), None)
    return "sdpa" if getattr(model_class, "_supports_sdpa", False) else "eager"


def load_pretrained(path: str | Path, max_seq_length: int | None = None, packed: bool = True,
                    min_fill: float | None = None, batch_tokens: int | None = None,
                    name: str | None = None) -> SentenceEncoder:
    """Load a sentence-transformers directory (or a plain Hugging Face model dir) from local disk only, in float32.

    Pooling, Normalize, the token cap and lower-casing come from the directory's own config files
    (`parasim.models.st_config`); `max_seq_length` overrides the cap. `name` is the base model an export's card
    names (default: the directory's name). float32 master weights whatever the checkpoint stores: transformers 5
    loads `dtype="auto"`, so a checkpoint saved in fp16 would train fp16 weights, which GradScaler refuses to
    unscale.
    """
    path = Path(path)
    layout = read_layout(path) if (path / "modules.json").is_file() or (path / "config.json").is_file() else None
    if layout is None or not (layout.transformer_dir / "config.json").is_file():
        raise ParasimError(
            f"No model at {path} (config.json missing). Fetch the weights with `make weights` (or "
            "`python -m parasim.weights`), or point model.path at a model directory."
        )
    source = layout.transformer_dir
    transformer = AutoModel.from_pretrained(source, local_files_only=True, use_safetensors=True, dtype=torch.float32,
                                            attn_implementation=_attention_implementation(source))
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    # from_pretrained returns eval mode; Lightning keeps a module's mode at fit start, so without this
    # the base model would train without dropout (the seed's trainer trains with it)
    return SentenceEncoder(transformer.train(), tokenizer, max_seq_length or token_cap(layout), packed, min_fill,
                           batch_tokens, layout.pooling, layout.do_lower_case, name or path.resolve().name)


def build_tiny(tokenizer_path: str | Path, hidden_size: int = 32, num_layers: int = 2, num_heads: int = 2,
               intermediate_size: int = 64, seed: int = 0, max_seq_length: int = MAX_SEQ_LENGTH, packed: bool = True,
               min_fill: float | None = None, batch_tokens: int | None = None) -> SentenceEncoder:
    """A randomly initialised MPNet of the real architecture and vocabulary, with its pooler as in the real
    checkpoint (so tests meet the parameters a mean-pooled embedding leaves unused), for tests and smoke runs."""
    tokenizer_path = Path(tokenizer_path)
    if not (tokenizer_path / "tokenizer_config.json").is_file():
        raise ParasimError(
            f"No tokenizer at {tokenizer_path}. The tiny model uses the real all-mpnet-base-v2 tokenizer: "
            "fetch it with `make weights` (or `python -m parasim.weights`)."
        )
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path, local_files_only=True)
    config = MPNetConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=num_layers,
                         num_attention_heads=num_heads, intermediate_size=intermediate_size,
                         max_position_embeddings=514, pad_token_id=tokenizer.pad_token_id)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        transformer = MPNetModel(config, add_pooling_layer=True)
    return SentenceEncoder(transformer, tokenizer, max_seq_length, packed, min_fill, batch_tokens,
                           name="random init (build_tiny)")
