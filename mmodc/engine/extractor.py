"""Feature extraction over a whole dataset, on one or many processes."""
import logging
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.dist import get_world_size, is_main_process
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader

from mmodc.datasets import SKIPPED_KEY, SkippedSample
from mmodc.utils import all_gather_cat, is_distributed


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside a DDP-style wrapper (or the model itself)."""
    return model.module if is_model_wrapper(model) else model


def default_forward(model: nn.Module, data: dict) -> torch.Tensor:
    """Features of a preprocessed batch: the model's 'tensor' mode."""
    return model(**data, mode='tensor')


def pool_last_stage(stages: Sequence[torch.Tensor]) -> torch.Tensor:
    """Global average pool of the last backbone output (``B x C``)."""
    last = stages[-1]
    return (last.mean(dim=(2, 3)) if last.dim() == 4 else last).flatten(1)


def pooled_backbone(model: nn.Module, data: dict) -> torch.Tensor:
    """Forward for :func:`extract_features`: the pooled last stage."""
    return pool_last_stage(model.backbone(data['inputs']))


def member_of(model: nn.Module, name: str) -> nn.Module:
    """One member network of a :class:`CODC` model.

    Args:
        model (nn.Module): The (possibly wrapped) model.
        name (str): The member's name.

    Returns:
        nn.Module: The member.

    Raises:
        KeyError: The model has no member of that name (the message lists
            the members, or says the model has none).
    """
    members = getattr(unwrap_model(model), 'members', None)
    if members is None or name not in members:
        listed = (f'its members are {list(members)}' if members is not None
                  else 'it is not a CODC model and has no members')
        raise KeyError(
            f'model member {name!r} does not exist: {listed}; name one of '
            'them (--models NAME[,NAME] in the benchmark tools, '
            "'NAME.backbone' in FeatureMonitorHook.features).")
    return members[name]


def named_feature_forward(name: str
                          ) -> Callable[[nn.Module, dict], torch.Tensor]:
    """Forward for :func:`extract_features` by feature name.

    Args:
        name (str): ``'backbone'`` (global average pool of the last stage),
            ``'neck'`` (the model's embedding), or ``'<member>.backbone'``,
            ``'<member>.neck'`` for a member of a :class:`CODC` model.

    Returns:
        Callable: ``(model, preprocessed batch) -> B x d``.

    Raises:
        ValueError: An unknown feature kind.
    """
    member, _, kind = name.rpartition('.')
    if kind not in ('backbone', 'neck'):
        raise ValueError(
            f'feature {name!r}: use backbone, neck, or MEMBER.backbone / '
            'MEMBER.neck for a CODC member.')

    def forward(model: nn.Module, data: dict) -> torch.Tensor:
        module = member_of(model, member) if member else unwrap_model(model)
        if kind == 'backbone':
            return pool_last_stage(module.backbone(data['inputs']))
        return module.extract_feat(data['inputs'])

    return forward


def members_backbone_forward(names: Sequence[str]
                             ) -> Callable[[nn.Module, dict], torch.Tensor]:
    """Forward for :func:`extract_features`: the pooled backbones of some
    members of a :class:`CODC` model, concatenated in the given order.

    Args:
        names (Sequence[str]): Member names.

    Returns:
        Callable: ``(model, preprocessed batch) -> B x sum(d)``.
    """
    forwards = [named_feature_forward(f'{name}.backbone') for name in names]

    def forward(model: nn.Module, data: dict) -> torch.Tensor:
        return torch.cat([part(model, data) for part in forwards], dim=1)

    return forward


@torch.no_grad()
def extract_features(model: nn.Module,
                     dataloader: DataLoader,
                     forward: Callable[[nn.Module, dict],
                                       torch.Tensor] = default_forward,
                     num_samples: Optional[int] = None,
                     show_progress: bool = True) -> torch.Tensor:
    """Extract one feature row per dataset sample, in dataset order.

    Each rank runs its share of the dataloader into a preallocated tensor;
    the shares are gathered once at the end and placed by ``sample_idx``.
    The model is put in eval mode and restored afterwards.

    Samples that :class:`SkipBadSamples` skipped (unreadable images, with
    ``skip_bad_samples = True``) get the mean feature of the others: it
    sits at the centre of the data, so a clustering gives such a sample
    the label of a central cluster, and ODC's memory keeps that row as it
    is, since training skips the sample too. They are logged.

    Args:
        model (nn.Module): The (possibly wrapped) model; its data
            preprocessor is applied to each batch.
        dataloader (DataLoader): Yields batches whose data samples carry
            ``sample_idx``.
        forward (Callable): Maps ``(model, preprocessed batch)`` to a
            ``B x d`` feature tensor. Defaults to ``mode='tensor'``.
        num_samples (int, optional): Length of the result; defaults to the
            dataset's length.
        show_progress (bool): Progress bar on the main process.

    Returns:
        torch.Tensor: ``N x d`` float32 features on the model's device.
    """
    num_samples = num_samples or len(dataloader.dataset)
    feats, idx, skipped = _extract_rows(model, dataloader, forward,
                                        show_progress)
    skipped_idx = all_gather_cat(torch.as_tensor(
        [sample.index for sample in skipped], dtype=torch.long,
        device=idx.device))
    return _place_by_index(all_gather_cat(feats), all_gather_cat(idx),
                           num_samples, skipped_idx)


@torch.no_grad()
def extract_local_features(model: nn.Module,
                           dataloader: DataLoader,
                           forward: Callable[[nn.Module, dict],
                                             torch.Tensor] = default_forward,
                           show_progress: bool = True
                           ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Extract the features of this rank's share of the dataloader, kept
    on this rank (nothing gathered: ``O(N / W)`` rows per rank).

    Skipped samples get the mean feature of this rank's others (see
    :func:`extract_features`).

    Args:
        model (nn.Module): The (possibly wrapped) model.
        dataloader (DataLoader): This rank's batches, with ``sample_idx``.
        forward (Callable): As in :func:`extract_features`.
        show_progress (bool): Progress bar on the main process.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: The rows, sorted by dataset
        index, and those indices.
    """
    feats, idx, skipped = _extract_rows(model, dataloader, forward,
                                        show_progress)
    if skipped:
        idx = torch.cat([idx, torch.as_tensor(
            [sample.index for sample in skipped], device=idx.device)])
        feats = torch.cat(
            [feats, feats.mean(dim=0).expand(len(skipped), -1)])
    order = torch.argsort(idx)
    return feats[order], idx[order]


def _extract_rows(model: nn.Module, dataloader: DataLoader,
                  forward: Callable[[nn.Module, dict], torch.Tensor],
                  show_progress: bool
                  ) -> Tuple[torch.Tensor, torch.Tensor,
                             List[SkippedSample]]:
    """This rank's features in the dataloader's order, their sample
    indices and the skipped samples (logged), the model in eval mode."""
    model = unwrap_model(model)
    was_training = model.training
    model.eval()
    progress = (ProgressBar(len(dataloader))
                if show_progress and is_main_process() else None)
    local_feats, local_idx, filled = None, None, 0
    skipped: List[SkippedSample] = []
    for batch in dataloader:
        skipped.extend(batch.get(SKIPPED_KEY, ()))
        data = model.data_preprocessor(batch, False)
        feats = forward(model, data).flatten(1).float()
        if local_feats is None:
            capacity = len(dataloader.sampler) if hasattr(
                dataloader, 'sampler') else len(dataloader.dataset)
            local_feats = feats.new_empty(capacity, feats.shape[1])
            local_idx = torch.empty(
                capacity, dtype=torch.long, device=feats.device)
        count = feats.shape[0]
        local_feats[filled:filled + count] = feats
        local_idx[filled:filled + count] = torch.as_tensor(
            [sample.sample_idx for sample in data['data_samples']])
        filled += count
        if progress is not None:
            progress.update()
    model.train(was_training)
    if skipped:
        _log_skipped(skipped)
    return local_feats[:filled], local_idx[:filled], skipped


def _log_skipped(skipped: List[SkippedSample]) -> None:
    """Log this rank's skipped samples (every rank logs its own)."""
    listed = '\n'.join(f'  {sample.index}: {sample.describe()}'
                       for sample in skipped)
    print_log(
        f'Feature extraction: {len(skipped)} unreadable samples skipped '
        f'(skip_bad_samples); their features are the mean of the '
        f'others:\n{listed}', logger='current',
        level=logging.WARNING)


def _place_by_index(feats: torch.Tensor, idx: torch.Tensor,
                    num_samples: int,
                    skipped_idx: Optional[torch.Tensor] = None
                    ) -> torch.Tensor:
    """Order gathered rows by sample index and check every sample is there
    (the skipped ones get the mean row)."""
    covered = torch.zeros(num_samples, dtype=torch.bool, device=idx.device)
    if skipped_idx is not None:
        covered[skipped_idx] = True
    if idx.numel() and (idx.min() < 0 or idx.max() >= num_samples):
        raise IndexError(
            f'Feature extraction: sample_idx out of range [0, {num_samples})'
            '; the dataloader does not iterate the expected dataset.')
    covered[idx] = True
    if not bool(covered.all()):
        raise RuntimeError(
            f'Feature extraction covered {int(covered.sum())} of '
            f'{num_samples} samples; the extraction dataloader must visit '
            'every sample (use a sampler without shuffle or drop_last).')
    result = feats.new_empty(num_samples, feats.shape[1])
    if skipped_idx is not None and skipped_idx.numel():
        result[skipped_idx] = feats.mean(dim=0)
    result[idx] = feats
    return result


def running_stat_batch_norms(model: nn.Module) -> List[nn.Module]:
    """The BatchNorm layers that keep running statistics (those eval mode
    normalises with).

    Args:
        model (nn.Module): The (possibly wrapped) model.

    Returns:
        list[nn.Module]: The layers.
    """
    return [
        module for module in unwrap_model(model).modules()
        if isinstance(module, nn.modules.batchnorm._BatchNorm)
        and module.track_running_stats
    ]


@torch.no_grad()
def recompute_bn_statistics(model: nn.Module,
                            dataloader: DataLoader,
                            num_batches: int,
                            forward: Callable[[nn.Module, dict],
                                              torch.Tensor] = default_forward
                            ) -> None:
    """Set BatchNorm running statistics to the averages over some batches.

    A freshly initialised network has running statistics (0, 1), so its
    eval-mode features differ from its training-mode ones; features
    extracted for a first clustering would then not match what training
    computes. This runs ``num_batches`` batches in training mode (no
    gradients) with cumulative averaging, then restores the momentum and
    mode. Across ranks the statistics are averaged.

    Args:
        model (nn.Module): The (possibly wrapped) model.
        dataloader (DataLoader): Batches to average over.
        num_batches (int): How many batches (fewer if the loader is short).
        forward (Callable): As in :func:`extract_features`.
    """
    model = unwrap_model(model)
    norms = running_stat_batch_norms(model)
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative moving average
    was_training = model.training
    model.train()
    for step, batch in enumerate(dataloader):
        if step == num_batches:
            break
        forward(model, model.data_preprocessor(batch, False))
    model.train(was_training)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
        if is_distributed():
            for stats in (norm.running_mean, norm.running_var):
                torch_dist.all_reduce(stats)
                stats.div_(get_world_size())
