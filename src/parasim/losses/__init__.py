"""Pair losses sharing one interface: `score(features)` per pair, `forward(features, labels)` a scalar."""

from parasim.losses.base import PairLoss
from parasim.losses.cosine_mse import CosineMSELoss
from parasim.losses.sef1_mse import SEF1MSELoss

__all__ = ["PairLoss", "SEF1MSELoss", "CosineMSELoss"]
