"""The trained encoder as a sentence-transformers directory, with its model card: the `export` config group."""

from parasim.export.exporter import Export

__all__ = ["Export"]
