"""Statistics of a score repeated over runs (seeds, draws)."""
from typing import Sequence, Tuple

import numpy as np


def mean_and_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and population standard deviation of repeated runs' scores.

    Args:
        values (Sequence[float]): One score per run.

    Returns:
        tuple[float, float]: The mean and the standard deviation (ddof 0,
        the spread every table of mmodc reports).
    """
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std())
