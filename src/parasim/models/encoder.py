"""The sentence-transformers stack reimplemented as one nn.Module, loaded from a local directory."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, AutoTokenizer, MPNetConfig, MPNetModel, PreTrainedTokenizerBase

from parasim.data.collate import encode_token_lists
from parasim.errors import ParasimError
from parasim.models import fast

MAX_SEQ_LENGTH = 384


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token states the mask keeps, as sentence-transformers' Pooling does."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class SentenceEncoder(nn.Module):
    """MPNet → mean pooling → L2 normalize; `forward` embeds one padded batch of sentences.

    `packed` (default) runs MPNet through `parasim.models.fast`: the token-wise layers see only real
    tokens, all chunks of a batch at once; `packed=False` is the plain `MPNetModel` call per chunk.
    Both give the same embeddings (float rounding aside).
    """

    def __init__(self, transformer: MPNetModel, tokenizer: PreTrainedTokenizerBase,
                 max_seq_length: int = MAX_SEQ_LENGTH, packed: bool = True) -> None:
        super().__init__()
        self.transformer = transformer
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length
        self.packed = packed and isinstance(transformer, MPNetModel)

    @property
    def dim(self) -> int:
        return int(self.transformer.config.hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.packed:
            return self.embed_chunks([(input_ids, attention_mask)])
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return F.normalize(mean_pool(hidden, attention_mask).float(), p=2, dim=-1)

    def embed_chunks(self, chunks: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """Embeddings of all chunks' rows, concatenated in chunk order."""
        if not self.packed:
            return torch.cat([self(ids, mask) for ids, mask in chunks], dim=0)
        packing = fast.pack(chunks)
        pooled = fast.packed_mean_pool(fast.packed_hidden(self.transformer, packing), packing)
        return F.normalize(pooled.float(), p=2, dim=-1)

    def tokenize(self, sentences: list[str]) -> list[list[int]]:
        """Token ids per sentence, special tokens included, truncated to the 384-token cap."""
        out = self.tokenizer(sentences, truncation=True, max_length=self.max_seq_length,
                             add_special_tokens=True)
        return out["input_ids"]

    @torch.no_grad()
    def encode(self, sentences: list[str], batch_tokens: int = 8192) -> torch.Tensor:
        """Embed sentences without gradients or dropout, in length-sorted chunks (little padding)."""
        was_training = self.training
        self.eval()
        try:
            return encode_token_lists(self, self.tokenize(sentences), batch_tokens)
        finally:
            self.train(was_training)


def load_pretrained(path: str | Path, max_seq_length: int = MAX_SEQ_LENGTH) -> SentenceEncoder:
    """Load a sentence-transformers directory (or any HF MPNet dir) from local disk only."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise ParasimError(
            f"No model at {path} (config.json missing). Fetch the all-mpnet-base-v2 weights with "
            "`make weights` (or `python -m parasim.weights`), or point model.path at a model directory."
        )
    transformer = AutoModel.from_pretrained(path, local_files_only=True, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    # from_pretrained returns eval mode; Lightning keeps a module's mode at fit start, so without this
    # the base model would train without dropout (the seed's trainer trains with it)
    return SentenceEncoder(transformer.train(), tokenizer, max_seq_length)


def build_tiny(tokenizer_path: str | Path, hidden_size: int = 32, num_layers: int = 2, num_heads: int = 2,
               intermediate_size: int = 64, seed: int = 0,
               max_seq_length: int = MAX_SEQ_LENGTH) -> SentenceEncoder:
    """A randomly initialised MPNet of the real architecture and vocabulary, for tests and smoke runs."""
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
        transformer = MPNetModel(config, add_pooling_layer=False)
    return SentenceEncoder(transformer, tokenizer, max_seq_length)
