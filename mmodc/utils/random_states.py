"""The global random states of torch, numpy and ``random``."""
import contextlib
import random
from typing import Iterator

import numpy as np
import torch


def capture_random_states() -> dict:
    """The CPU generator states of torch, numpy and ``random``.

    Returns:
        dict: ``torch``, ``numpy`` and ``python`` states, for
        :func:`restore_random_states`.
    """
    return dict(
        torch=torch.get_rng_state(),
        numpy=np.random.get_state(),
        python=random.getstate())


def restore_random_states(states: dict) -> None:
    """Set the generators to states from :func:`capture_random_states`.

    Args:
        states (dict): ``torch``, ``numpy`` and ``python`` states.
    """
    torch.set_rng_state(states['torch'])
    np.random.set_state(states['numpy'])
    random.setstate(states['python'])


@contextlib.contextmanager
def preserved_random_states() -> Iterator[None]:
    """Run a block without moving any global generator: torch's (CPU and
    every CUDA device, through ``torch.random.fork_rng``), numpy's and
    ``random``'s are put back on exit."""
    states = capture_random_states()
    devices = list(range(torch.cuda.device_count()))
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            restore_random_states(states)
