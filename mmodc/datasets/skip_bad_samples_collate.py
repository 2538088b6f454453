"""Batching that leaves out the samples :class:`SkipBadSamples` skipped."""
from typing import Any, Sequence

from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS

from mmodc.registry import FUNCTIONS
from .skip_bad_samples import SkippedSample

#: The batch key that lists the skipped samples.
SKIPPED_KEY = 'skipped_samples'


@FUNCTIONS.register_module()
def skip_bad_samples_collate(data_batch: Sequence[Any],
                             collate: str = 'default_collate') -> dict:
    """Collate the readable samples and list the skipped ones.

    Args:
        data_batch (Sequence): Samples of :class:`SkipBadSamples`, some of
            them :class:`SkippedSample`.
        collate (str): MMEngine's collate function for the readable ones
            (``'default_collate'`` or ``'pseudo_collate'``).

    Returns:
        dict: The collated batch (``inputs``, ``data_samples``) with
        ``skipped_samples``, the list of :class:`SkippedSample`.

    Raises:
        OSError: Every sample of the batch is unreadable.
    """
    skipped = [sample for sample in data_batch
               if isinstance(sample, SkippedSample)]
    readable = [sample for sample in data_batch
                if not isinstance(sample, SkippedSample)]
    if not readable:
        listed = '; '.join(sample.describe() for sample in skipped)
        raise OSError(
            f'Every image of a batch of {len(skipped)} is unreadable '
            f'({listed}); check the data (tools/cluster_images.py lists '
            'every unreadable file).')
    batch = MMENGINE_FUNCTIONS.get(collate)(readable)
    batch[SKIPPED_KEY] = skipped
    return batch
