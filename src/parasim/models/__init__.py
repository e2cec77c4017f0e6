"""The sentence encoder (a sentence-transformers model: transformer → mean or CLS pooling → L2 normalize) and SE-F1."""
