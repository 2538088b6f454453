"""Reading annotation files with errors that name the dataset and file."""
from typing import Any, List

from mmengine.fileio import exists, isdir, join_path, list_from_file, load
from mmengine.utils import is_abs


def join_root(data_root: str, path: str) -> str:
    """``path`` under ``data_root`` unless it is absolute (as MMEngine joins
    ``ann_file``).

    Args:
        data_root (str): The dataset's root folder ('' for none).
        path (str): A file path, relative to ``data_root`` or absolute.

    Returns:
        str: The joined path.
    """
    if not data_root or is_abs(path):
        return path
    return join_path(data_root, path)


def require_path(path: str, dataset: str, what: str,
                 folder: bool = False) -> None:
    """Raise a clear error if an annotation file or image folder is missing.

    Args:
        path (str): The file or folder.
        dataset (str): Name of the dataset class, for the message.
        what (str): What it is, e.g. 'annotation list (ann_file)'.
        folder (bool): ``path`` must be a folder (else any existing path).

    Raises:
        FileNotFoundError: Naming the path and what sets it.
    """
    found = isdir(path) if folder else exists(path)
    if not found:
        raise FileNotFoundError(
            f'{dataset}: {what} {path} not found; check data_root and the '
            f'{"data_prefix" if folder else "file name"} in the dataset '
            'config.')


def read_lines(path: str, dataset: str, what: str) -> List[str]:
    """The lines of a text annotation file (no line endings), read by
    MMEngine's ``list_from_file`` (as MMPretrain's ``CustomDataset`` reads
    its ``ann_file``) once the file is known to exist.

    Args:
        path (str): The file.
        dataset (str): Name of the dataset class, for the messages.
        what (str): What the file is.

    Returns:
        list[str]: The lines; a final newline does not add an empty line.
    """
    require_path(path, dataset, what)
    return list_from_file(path)


def read_json(path: str, dataset: str, what: str) -> Any:
    """The content of a JSON annotation file.

    Args:
        path (str): The file.
        dataset (str): Name of the dataset class, for the messages.
        what (str): What the file is.

    Returns:
        The decoded JSON.
    """
    require_path(path, dataset, what)
    try:
        return load(path, file_format='json')
    except ValueError as error:
        raise ValueError(
            f'{dataset}: {what} {path} is not valid JSON ({error}).') from None
