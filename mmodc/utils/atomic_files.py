"""Files that a crash cannot leave half written."""
import os
import os.path as osp


def replace_atomically(source: str, target: str) -> None:
    """Flush ``source`` to disk and rename it to ``target`` (atomic on one
    file system), then flush the folder entry.

    Args:
        source (str): A file just written.
        target (str): Its final name, in the same folder.
    """
    with open(source, 'rb') as file:
        os.fsync(file.fileno())
    os.replace(source, target)
    folder = os.open(osp.dirname(osp.abspath(target)), os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
