"""Paraphrase mining: which paragraphs of a collection were paraphrased from where.

Documents → paragraphs (`documents`), each distinct text embedded once through Lightning's predict loop
(`embedder`) into an on-disk cache (`cache`), candidates from a FAISS index (`index`, `candidates`), re-ranked by
SE-F1 and calibrated (`pipeline`). The entry point is `parasim.mine`.
"""
