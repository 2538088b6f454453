"""One network of Collaborative ODC: backbone, embedding, memory, heads."""
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.model import BaseModule
from mmpretrain.structures import DataSample
from torch import nn

from mmodc.registry import MODELS
from ..losses import weighted_cross_entropy
from ..utils.finite_checks import check_finite_features
from .rotation_pred import NUM_ROTATIONS, rotate_batch, rotation_losses

#: The pretext tasks a member may have besides its cluster heads.
TASKS = ('rotation', 'mixup')


class CODCMember(BaseModule):
    """One network of :class:`CODC`.

    The member embeds every image with its backbone and ``neck`` (e.g.
    :class:`ODCNeck`); its ``memory_bank`` (:class:`ODCMemory`) holds
    these embeddings of the training set and clusters them. Each of its
    ``heads`` predicts, from the same embedding, the pseudo-labels of one
    memory of the CODC model: its own (ODC's loss) or another member's (the
    collaboration). Its ``task`` is its own pretext task, if any:

    - ``dict(type='rotation', neck=..., head=...)``: every image at 0, 90,
      180 and 270 degrees, a 4-way head (:class:`RotationPred`'s loss);
    - ``dict(type='mixup', labels=<member>, alpha=..., neck=..., head=...)``:
      classification of mixed pairs of images into the pseudo-labels of a
      memory (mixup: ``lam x_i + (1 - lam) x_j`` is scored against both
      labels with weights ``lam``, ``1 - lam``; ``lam ~ Beta(alpha,
      alpha)``).

    The task's images go through the backbone in one batch with the plain
    ones (their first ``B`` rows), whose embedding feeds the heads and the
    memory.

    Args:
        name (str): The member's name in :class:`CODC` (for messages).
        backbone (dict): Backbone config.
        neck (dict): Neck config: the embedding of the memory and heads.
        memory_bank (dict): :class:`ODCMemory` config.
        heads (dict): Memory name -> head config (e.g.
            :class:`ClusterClsHead` with that memory's ``num_classes``).
        task (dict, optional): The member's own pretext task (above).
    """

    def __init__(self,
                 name: str,
                 backbone: dict,
                 neck: dict,
                 memory_bank: dict,
                 heads: Dict[str, dict],
                 task: Optional[dict] = None) -> None:
        super().__init__()
        self.name = name
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.memory_bank = MODELS.build(memory_bank)
        self.heads = nn.ModuleDict(
            {memory: MODELS.build(cfg)
             for memory, cfg in heads.items()})
        self.task = dict(task or {})
        task_type = self.task.pop('type', None)
        if task_type not in (None, ) + TASKS:
            raise ValueError(
                f'CODC member {name!r}: task type {task_type!r}; choose '
                f'from {list(TASKS)} or leave the task out.')
        self.task_type = task_type
        if task_type is not None:
            self.task_neck = MODELS.build(self.task.pop('neck'))
            self.task_head = MODELS.build(self.task.pop('head'))
        if task_type == 'rotation' and \
                self.task_head.num_classes != NUM_ROTATIONS:
            raise ValueError(
                f'CODC member {name!r}: task.head.num_classes='
                f'{self.task_head.num_classes}; rotation prediction has '
                f'{NUM_ROTATIONS} classes.')
        if not heads and task_type is None:
            raise ValueError(
                f'CODC member {name!r} has no heads and no task, so nothing '
                'would train it: give it heads and/or a task.')

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """The member's embedding of the images (what its memory holds).

        Args:
            inputs (torch.Tensor): ``B x C x H x W`` images.

        Returns:
            torch.Tensor: ``B x d`` embeddings.
        """
        return self.neck(self.backbone(inputs))[-1].flatten(1)

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample],
             labels: Dict[str, torch.Tensor],
             class_weights: Dict[str, Optional[torch.Tensor]]
             ) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        """The member's losses on a batch.

        Args:
            inputs (torch.Tensor): ``B x C x H x W`` preprocessed images.
            data_samples (list[DataSample]): Their samples.
            labels (dict[str, torch.Tensor]): Every memory's pseudo-labels
                of the batch, by memory name.
            class_weights (dict[str, torch.Tensor]): Every memory's
                per-cluster loss weights.

        Returns:
            tuple[dict, torch.Tensor]: ``loss_<memory>`` per head,
            ``loss_<task>`` (and ``rotation_accuracy``), and the batch's
            ``B x d`` embedding (with gradients).
        """
        count = inputs.shape[0]
        task_inputs, first_task_row, task_labels = self._task_batch(
            inputs, labels)
        stages = self.backbone(task_inputs)
        embedding = self.neck(tuple(
            stage[:count] for stage in stages))[-1].flatten(1)
        check_finite_features(f'CODC member {self.name!r}', inputs,
                              embedding, data_samples)
        losses = {}
        for memory, head in self.heads.items():
            losses[f'loss_{memory}'] = head.loss(embedding, labels[memory],
                                                 class_weights[memory])
        if self.task_type is not None:
            task_feats = self.task_neck(tuple(
                stage[first_task_row:] for stage in stages))[-1].flatten(1)
            losses.update(self._task_losses(task_feats, task_labels,
                                            class_weights))
        return losses, embedding

    def _task_batch(self, inputs: torch.Tensor,
                    labels: Dict[str, torch.Tensor]
                    ) -> Tuple[torch.Tensor, int, Optional[dict]]:
        """The backbone's batch (the plain images first), the row where the
        task's images start, and what the task scores against."""
        if self.task_type == 'rotation':
            # the unrotated quarter is the plain batch, and a task image too
            rotated, rotations = rotate_batch(inputs)
            return rotated, 0, dict(rotations=rotations)
        if self.task_type == 'mixup':
            alpha = float(self.task.get('alpha', 1.0))
            lam = torch.distributions.Beta(alpha, alpha).sample().item()
            order = torch.randperm(inputs.shape[0], device=inputs.device)
            mixed = lam * inputs + (1 - lam) * inputs[order]
            targets = labels[self.task['labels']]
            return torch.cat([inputs, mixed]), inputs.shape[0], dict(
                lam=lam, first=targets, second=targets[order])
        return inputs, inputs.shape[0], None

    def _task_losses(self, task_feats: torch.Tensor, task_labels: dict,
                     class_weights: Dict[str, Optional[torch.Tensor]]
                     ) -> Dict[str, torch.Tensor]:
        """The pretext task's loss (and accuracy for rotations)."""
        scores = self.task_head(task_feats)
        if self.task_type == 'rotation':
            losses = rotation_losses(scores, task_labels['rotations'])
            return dict(loss_rotation=losses.pop('loss'), **losses)
        weights = class_weights[self.task['labels']]
        lam = task_labels['lam']
        loss = lam * weighted_cross_entropy(
            scores, task_labels['first'], weights) + (
                1 - lam) * weighted_cross_entropy(
                    scores, task_labels['second'], weights)
        return dict(loss_mixup=loss)
