"""Readers that turn every supported corpus layout into `PairRecord` lists."""

from parasim.data.readers.alecs import read_alecs
from parasim.data.readers.negatives import random_negatives
from parasim.data.readers.sentence_sets import read_mrpc, read_paws, read_sts
from parasim.data.readers.tabular import read_pairs_file
from parasim.data.readers.textio import read_text
from parasim.data.readers.webis import read_webis

__all__ = [
    "random_negatives",
    "read_alecs",
    "read_mrpc",
    "read_pairs_file",
    "read_paws",
    "read_sts",
    "read_text",
    "read_webis",
]
