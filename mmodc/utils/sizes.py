"""The ``'auto'`` size marker, for the modules that allocate by size."""
from typing import Any

#: The value that leaves a size to the data (see
#: :func:`mmodc.engine.data_sizes.resolve_data_sizes`).
AUTO = 'auto'


def require_resolved(value: Any, name: str) -> int:
    """``value`` as a positive int, or an error saying how to resolve it.

    Args:
        value: A size from a config.
        name (str): Its key, for the error.

    Returns:
        int: The size.
    """
    if value == AUTO:
        raise ValueError(
            f'{name}="{AUTO}" is set from the training set before the model '
            'is built: tools/train.py (and mim train) do it; in your own '
            'script call mmodc.engine.resolve_data_sizes(cfg) before '
            'Runner.from_cfg(cfg).')
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{name} must be a positive integer or "{AUTO}", '
                         f'got {value!r}.')
    return value
