"""Finding the parts of a config that a tool rewrites."""
from typing import Any, Callable, Iterator


def find_dicts(node: Any, wanted: Callable[[dict], bool]) -> Iterator[dict]:
    """Every dict under ``node`` (``node`` included, lists and dicts
    searched depth-first) for which ``wanted`` is true.

    Args:
        node (Any): A config or a part of one.
        wanted (Callable[[dict], bool]): The test.

    Yields:
        dict: The matching dicts, themselves (changes go into the config).
    """
    if isinstance(node, dict):
        if wanted(node):
            yield node
        for value in node.values():
            yield from find_dicts(value, wanted)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from find_dicts(value, wanted)
