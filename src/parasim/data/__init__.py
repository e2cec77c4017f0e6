"""Corpora, pair building, pre-processing and batching."""
