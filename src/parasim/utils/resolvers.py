"""OmegaConf resolvers used in conf/: embedded corpora and the weights cache."""

from __future__ import annotations

from omegaconf import OmegaConf

from parasim.corpora import corpus_path
from parasim.weights import cache_dir


def register_resolvers() -> None:
    OmegaConf.register_new_resolver("parasim_corpus", corpus_path, replace=True)
    OmegaConf.register_new_resolver("parasim_cache", lambda: str(cache_dir()), replace=True)
