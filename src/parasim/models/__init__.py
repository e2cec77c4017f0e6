"""The sentence encoder (MPNet → mean pooling → L2 normalize) and SE-F1."""
