"""Log the samples that training skipped because they cannot be read."""
from typing import Dict, List, Optional

from mmengine.dist import all_gather_object
from mmengine.hooks import Hook

from mmodc.datasets import SKIPPED_KEY, SkippedSample
from mmodc.registry import HOOKS


def merge_skipped(local: List[SkippedSample]) -> Dict[int, SkippedSample]:
    """The skipped samples of every rank, by dataset index (a collective
    in a distributed run: every rank calls it).

    Args:
        local (list[SkippedSample]): This rank's.

    Returns:
        dict[int, SkippedSample]: All ranks', sorted by index.
    """
    merged = {sample.index: sample
              for part in all_gather_object(local) for sample in part}
    return dict(sorted(merged.items()))


@HOOKS.register_module()
class SkippedSamplesHook(Hook):
    """Say which samples :class:`SkipBadSamples` left out of training.

    Each skipped file is logged once, when it is first met; at the end of
    every epoch the files skipped in it (on all ranks) are listed with
    their count, which is also logged as ``train/skipped_samples``.
    ``skip_bad_samples = True`` in a config adds this hook
    (:func:`mmodc.engine.apply_skip_bad_samples`).
    """

    priority = 'NORMAL'

    def __init__(self) -> None:
        self.logged = set()
        self.epoch_skipped: Dict[int, SkippedSample] = {}

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        for sample in (data_batch or {}).get(SKIPPED_KEY, []):
            self.epoch_skipped[sample.index] = sample
            if sample.index not in self.logged:
                self.logged.add(sample.index)
                runner.logger.warning(
                    f'Skipped sample {sample.index} (skip_bad_samples): '
                    f'{sample.describe()}')

    def after_train_epoch(self, runner) -> None:
        skipped = merge_skipped(list(self.epoch_skipped.values()))
        self.epoch_skipped.clear()
        runner.message_hub.update_scalar('train/skipped_samples',
                                         len(skipped))
        if skipped:
            listed = '\n'.join(f'  {index}: {sample.describe()}'
                               for index, sample in skipped.items())
            runner.logger.warning(
                f'Epoch {runner.epoch + 1}: {len(skipped)} unreadable '
                f'samples left out of training (ODC keeps their memory rows '
                f'unchanged):\n{listed}')
