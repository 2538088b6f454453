"""BatchNormCalibrationHook: running statistics that match the weights."""
import copy
from typing import Optional, Union

from mmengine.hooks import Hook
from torch.utils.data import DataLoader

from mmodc.engine.extractor import (
    recompute_bn_statistics,
    running_stat_batch_norms,
)
from mmodc.registry import HOOKS
from mmodc.utils import preserved_random_states


@HOOKS.register_module()
class BatchNormCalibrationHook(Hook):
    """Set BatchNorm running statistics to those of the current weights.

    Training normalises every batch with its own statistics; the running
    averages that eval mode uses trail the weights by many iterations (and
    are (0, 1) before training). This hook replaces them with the average
    over ``num_batches`` batches of ``dataloader``, forwarded with the
    current weights (cumulative average, averaged over ranks):

    - before training (not on resume: the checkpoint holds them), so that
      eval-mode features of the first clustering match training's;
    - after every ``interval`` epochs (iterations if ``by_epoch`` is False)
      and after the last one, before the hooks that extract features
      (clustering, monitor) and before the checkpoint is saved.

    A saved model then embeds an image the same way alone or in any batch.
    The hook changes only the running statistics: it computes no gradient
    and restores the training mode and every global random state. What
    depends on them is what should: eval-mode features (the first
    clustering, DeepCluster's re-clusterings, the monitor, inference).

    MMPretrain's ``PreciseBNHook`` serves the same purpose but iterates the
    training dataloader (with its augmentations, moving its random state)
    and only forwards what the model's ``'tensor'`` mode computes.

    Args:
        dataloader (dict | DataLoader): The images to average over, usually
            the extraction pipeline (no augmentation). A shuffling
            ``DefaultSampler`` without a seed gets the runner's seed, so
            every calibration of a run (and of its resumption) sees the
            same images.
        num_batches (int): Batches per calibration (fewer if the loader is
            shorter). Defaults to 20.
        interval (int): Calibrate every ``interval`` epochs (or
            iterations). Defaults to 1.
        by_epoch (bool): Whether ``interval`` counts epochs. Defaults to
            True.
    """

    priority = 'ABOVE_NORMAL'  # before clustering, monitor and checkpoint

    def __init__(self,
                 dataloader: Union[dict, DataLoader],
                 num_batches: int = 20,
                 interval: int = 1,
                 by_epoch: bool = True) -> None:
        if num_batches < 1 or interval < 1:
            raise ValueError(
                'BatchNormCalibrationHook: num_batches and interval must be '
                f'>= 1, got num_batches={num_batches}, interval={interval}.')
        self.dataloader_cfg = dataloader
        self.num_batches = num_batches
        self.interval = interval
        self.by_epoch = by_epoch
        self._dataloader: Optional[DataLoader] = None

    def before_train(self, runner) -> None:
        if not running_stat_batch_norms(runner.model):
            raise ValueError(
                'BatchNormCalibrationHook: the model has no BatchNorm layer '
                'with running statistics (track_running_stats=True) to '
                'calibrate; remove the hook from custom_hooks.')
        if runner.iter == 0:
            self.calibrate(runner)

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and (self.every_n_epochs(runner, self.interval)
                              or self.is_last_train_epoch(runner)):
            self.calibrate(runner)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if not self.by_epoch and (
                self.every_n_train_iters(runner, self.interval)
                or self.is_last_train_iter(runner)):
            self.calibrate(runner)

    def calibrate(self, runner) -> None:
        """Recompute the running statistics now, leaving every random state
        where it was.

        Args:
            runner (Runner): The runner.
        """
        with preserved_random_states():
            recompute_bn_statistics(runner.model, self._loader(runner),
                                    self.num_batches)
        layers = len(running_stat_batch_norms(runner.model))
        runner.logger.info(
            'BatchNormCalibrationHook: running statistics of '
            f'{layers} BatchNorm layers over {self.num_batches} batches')

    def _loader(self, runner) -> DataLoader:
        """The calibration dataloader, built once."""
        if self._dataloader is None:
            cfg = self.dataloader_cfg
            if isinstance(cfg, dict):
                cfg = copy.deepcopy(cfg)
                sampler = cfg.get('sampler', {})
                if sampler.get('shuffle') and sampler.get('seed') is None:
                    sampler['seed'] = runner.seed
            self._dataloader = runner.build_dataloader(cfg)
        return self._dataloader
