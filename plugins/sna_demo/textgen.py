"""Vectorized helpers that build text columns from random numbers (no per-row Python loops)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def digits(rng: np.random.Generator, n: int, length: int) -> pd.Series:
    """`n` random strings of exactly `length` digits (leading zeros kept)."""
    if length <= 0:
        return pd.Series([""] * n, dtype="str")
    values = rng.integers(0, 10**length, size=n, dtype=np.int64)
    return pd.Series(values).astype("str").str.zfill(length)


def letters(rng: np.random.Generator, n: int, alphabet: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ") -> pd.Series:
    """`n` random single letters from `alphabet`."""
    return pick(rng, n, list(alphabet))


def pick(
    rng: np.random.Generator, n: int, choices: Sequence[str], weights: Sequence[float] | None = None
) -> pd.Series:
    """`n` strings drawn from `choices` (with optional weights, normalized here)."""
    p = None
    if weights is not None:
        p = np.asarray(weights, dtype=float)
        p = p / p.sum()
    index = rng.choice(len(choices), size=n, p=p)
    return pd.Series(np.asarray(choices, dtype=object)[index]).astype("str")


def mask(rng: np.random.Generator, n: int, probability: float) -> np.ndarray:
    """A boolean array, True with the given probability."""
    return rng.random(n) < probability
