"""Export to the sentence-transformers on-disk format, with a model card."""
