"""A dataset wrapper that turns an unreadable sample into a record of it."""
from dataclasses import dataclass
from typing import Any, Optional, Union

from torch.utils.data import Dataset

from mmodc.registry import DATASETS
from .transforms.checked_load_image import UnreadableImageError


@dataclass
class SkippedSample:
    """A sample that could not be read, in place of its data.

    Attributes:
        index (int): Its dataset index (the memory row ODC leaves alone).
        path (str): Its file.
        reason (str): Why it could not be read.
        ann_line (str, optional): The annotation line naming the file.
    """
    index: int
    path: str
    reason: str
    ann_line: Optional[str] = None

    def describe(self) -> str:
        """``'PATH (ANN LINE): REASON'``."""
        where = f' ({self.ann_line})' if self.ann_line else ''
        return f'{self.path}{where}: {self.reason}'


@DATASETS.register_module()
class SkipBadSamples(Dataset):
    """Train on without the samples whose image cannot be read.

    A sample whose loading raises :class:`UnreadableImageError` (an empty,
    truncated, missing or non-image file, from
    :class:`CheckedLoadImageFromFile`) comes back as a
    :class:`SkippedSample`. :func:`skip_bad_samples_collate` leaves it out
    of the batch and lists it under the batch's ``skipped_samples``, which
    :class:`SkippedSamplesHook` logs and :func:`extract_features` fills
    (see there). No index shifts: the other samples keep theirs, so ODC
    leaves a skipped sample's memory row unchanged. Other errors still
    stop training.

    Set ``skip_bad_samples = True`` at the top of a config to wrap every
    dataloader of the run (:func:`mmodc.engine.apply_skip_bad_samples`).

    Args:
        dataset (dict | Dataset): The dataset, or its config.
    """

    def __init__(self, dataset: Union[dict, Dataset]) -> None:
        self.dataset = (DATASETS.build(dataset)
                        if isinstance(dataset, dict) else dataset)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        """The sample, or a :class:`SkippedSample` when its image cannot be
        read."""
        try:
            return self.dataset[index]
        except UnreadableImageError as error:
            return SkippedSample(index, error.path, error.reason,
                                 error.ann_line)

    def __getattr__(self, name: str) -> Any:
        """Everything else (``metainfo``, ``assign_labels``...) is the
        wrapped dataset's."""
        if name == 'dataset':  # not set yet (unpickling)
            raise AttributeError(name)
        return getattr(self.dataset, name)
