"""Where the Hydra configs live, and the resolvers they use: registered once, when this module is imported.

Every entry point (`parasim.train`, `parasim.evaluate`, `parasim.score`) imports `CONFIG_DIR` from here, so the
resolvers exist before Hydra composes anything; tests that compose configs import it the same way.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from parasim.corpora import corpus_path
from parasim.models.st_config import max_seq_length
from parasim.weights import cache_dir

CONFIG_DIR = Path(__file__).resolve().parents[2] / "conf"

OmegaConf.register_new_resolver("parasim_corpus", corpus_path, replace=True)  # ${parasim_corpus:mtmp_pan}
OmegaConf.register_new_resolver("parasim_cache", lambda: str(cache_dir()), replace=True)  # ${parasim_cache:}
# ${parasim_st_max_seq_length:${.path}}: the token cap a sentence-transformers directory declares (model=st_dir)
OmegaConf.register_new_resolver("parasim_st_max_seq_length", max_seq_length, replace=True)
