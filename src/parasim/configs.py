"""Where the Hydra configs live, and the resolvers they use: registered once, when this module is imported.

Every entry point (`parasim.train`, `parasim.evaluate`, `parasim.score`) imports `CONFIG_DIR` from here, so the
resolvers exist before Hydra composes anything; tests that compose configs import it the same way.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from parasim.corpora import corpus_path
from parasim.weights import cache_dir

CONFIG_DIR = Path(__file__).resolve().parents[2] / "conf"

OmegaConf.register_new_resolver("parasim_corpus", corpus_path, replace=True)  # ${parasim_corpus:mtmp_pan}
OmegaConf.register_new_resolver("parasim_cache", lambda: str(cache_dir()), replace=True)  # ${parasim_cache:}
