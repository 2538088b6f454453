"""Collaborative Online Deep Clustering (Zhan et al., 2020)."""
from typing import Dict, List, Optional

import torch
from mmpretrain.structures import DataSample
from torch import nn

from mmodc.registry import MODELS
from ..utils.finite_checks import check_finite_loss
from ..utils.model_memories import memory_buffer_names
from .base_clustering import SelfSupervisedModel, sample_indices
from .codc_member import CODCMember


@MODELS.register_module()
class CODC(SelfSupervisedModel):
    """Several networks trained together, each learning the cluster labels
    that the others' features give, so that none can follow the shortcut
    of its own pretext task alone (docs/codc.md).

    Every member (:class:`CODCMember`) has its own backbone, embedding neck
    and :class:`ODCMemory` of its embeddings of the training set; its heads
    predict the pseudo-labels of memories named by member. A typical
    2-model CODC has a ``clustering`` member (heads on its own memory, which
    is ODC, and on the rotation member's) and a ``rotation`` member
    (rotation prediction, and a head on the clustering member's memory).
    Each iteration reads every memory's labels of the batch first, then
    computes every member's losses (their sum is optimised), then updates
    every memory with its member's embeddings. :class:`ODCHook` and
    :class:`DeepClusterHook` (``init_memory=True``) handle every memory.

    Args:
        members (dict): Member name -> :class:`CODCMember` arguments
            (``backbone``, ``neck``, ``memory_bank``, ``heads``, ``task``).
        data_preprocessor (dict, optional): Data preprocessor config (one
            for all members: they see the same augmented images).
        init_cfg (dict, optional): Initialisation config.
        channels_last (bool): Channels-last convolutions (see
            :class:`SelfSupervisedModel`). Defaults to False.
    """

    def __init__(self,
                 members: Dict[str, dict],
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 channels_last: bool = False) -> None:
        super().__init__(data_preprocessor, init_cfg, channels_last)
        if not members:
            raise ValueError('CODC: model.members is empty; give it the '
                             'networks to train, e.g. clustering and '
                             'rotation.')
        self.members = nn.ModuleDict({
            name: CODCMember(name=name, **cfg)
            for name, cfg in members.items()
        })
        self._check_memories()
        self._check_heads()
        self._ddp_params_and_buffers_to_ignore = memory_buffer_names(self)
        self.use_memory_format()

    def _check_memories(self) -> None:
        """Every memory holds one row per training image: the same
        length."""
        lengths = {name: member.memory_bank.length
                   for name, member in self.members.items()}
        if len(set(lengths.values())) > 1:
            listed = ', '.join(
                f'model.members.{name}.memory_bank.length={length}'
                for name, length in lengths.items())
            raise ValueError(
                f'CODC: the members\' memories differ in length ({listed}); '
                'each holds one row per training image: set all to the '
                'number of training images.')

    def _check_heads(self) -> None:
        """Each head predicts an existing memory's labels, with as many
        classes as that memory has clusters."""
        for name, member in self.members.items():
            targets = [(f'heads.{memory}', memory, head.num_classes)
                       for memory, head in member.heads.items()]
            if member.task_type == 'mixup':
                targets.append(('task.labels', member.task.get('labels'),
                                member.task_head.num_classes))
            for field, memory, num_classes in targets:
                if memory not in self.members:
                    raise KeyError(
                        f'CODC: model.members.{name}.{field} names memory '
                        f'{memory!r}; the memories are those of the members '
                        f'{list(self.members)}.')
                clusters = self.members[memory].memory_bank.num_classes
                if num_classes != clusters:
                    raise ValueError(
                        f'CODC: model.members.{name}.{field} has '
                        f'num_classes={num_classes} but memory {memory!r} '
                        f'has {clusters} clusters (model.members.{memory}.'
                        'memory_bank.num_classes); set them equal.')

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Every member's embedding, concatenated in member order.

        Args:
            inputs (torch.Tensor): ``B x C x H x W`` images.

        Returns:
            torch.Tensor: ``B x sum(d)`` embeddings.
        """
        inputs = inputs.contiguous(memory_format=self.memory_format)
        return torch.cat(
            [member.extract_feat(inputs) for member in self.members.values()],
            dim=1)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Every member's losses, then every memory's update.

        Args:
            inputs (torch.Tensor): The preprocessed images (one view).
            data_samples (list[DataSample]): Samples with ``sample_idx``.

        Returns:
            dict[str, torch.Tensor]: ``<member>.loss_<memory>``,
            ``<member>.loss_<task>`` (MMEngine optimises their sum),
            ``<member>.change_ratio`` of each memory's labels, and
            ``change_ratio``, their mean.
        """
        if isinstance(inputs, (list, tuple)):
            raise ValueError('CODC takes one view per image; remove '
                             'extra_views from the data preprocessor.')
        inputs = inputs.contiguous(memory_format=self.memory_format)
        memories = {name: member.memory_bank
                    for name, member in self.members.items()}
        idx = sample_indices('CODC', data_samples,
                             next(iter(memories.values())).label_bank.device)
        labels = {name: memory.labels_of(idx)
                  for name, memory in memories.items()}
        weights = {name: memory.class_weights
                   for name, memory in memories.items()}
        for member in self.members.values():
            for memory, head in member.heads.items():
                head.set_centroids(memories[memory].centroids)
        results, embeddings = {}, {}
        for name, member in self.members.items():
            losses, embeddings[name] = member.loss(inputs, data_samples,
                                                   labels, weights)
            for key, value in losses.items():
                if key.startswith('loss'):
                    check_finite_loss(f'CODC member {name!r}', value,
                                      data_samples, len(data_samples))
                results[f'{name}.{key}'] = value
        changes = [memories[name].update_samples_memory(
            idx, embedding.detach()) for name, embedding in embeddings.items()]
        for name, change in zip(embeddings, changes):
            results[f'{name}.change_ratio'] = change
        results['change_ratio'] = torch.stack(changes).mean()
        return results

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """Not defined for several networks: embed with ``mode='tensor'``
        (all members) or pick members with the benchmark tools'
        ``--models``."""
        raise RuntimeError(
            'CODC has no single prediction: its members cluster separately. '
            "Use mode='tensor' for every member's embedding, or the "
            'benchmark tools with --models NAME[,NAME].')

