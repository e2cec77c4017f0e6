"""parasim: paragraph-level paraphrase detection with SE-F1 on sentence embeddings."""

__version__ = "0.1.0"
