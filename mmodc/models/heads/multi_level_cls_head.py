"""One BatchNorm + linear classifier per backbone level."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.structures import DataSample

from mmodc.registry import MODELS

#: Channels of ResNet-50's levels (stem, stages 1..4).
RESNET50_CHANNELS = (64, 256, 512, 1024, 2048)
#: Flattened dims of those levels after the reference pooling at 224 px.
RESNET50_FEAT_DIMS = (9216, 9216, 8192, 9216, 8192)


@MODELS.register_module()
class MultiLevelClsHead(BaseModule):
    """Linear classifiers on the pooled maps of every level, trained at once.

    Per level (the multi-head linear evaluation of OpenSelfSup): a
    BatchNorm over the channels without affine parameters, flatten, then
    ``Linear(feat_dim, num_classes)``; each level has its own cross-entropy
    loss. Used by MMPretrain's ``ImageClassifier`` after ``MultiPooling``.

    Args:
        num_classes (int): Number of classes.
        in_channels (Sequence[int]): Channels of each level. Defaults to
            ResNet-50's.
        feat_dims (Sequence[int]): Flattened size of each pooled level
            (channels x height x width). Defaults to ResNet-50's at 224 px
            with the reference pooling.
        levels (Sequence[int]): The levels of the inputs (1 = stem), which
            name the losses and scores (``feature1`` ...). Defaults to all
            five.
        norm_cfg (dict): Norm layer of each level. Defaults to BN with
            momentum 0.1 and no affine parameters.
        loss (dict): Classification loss of every level. Defaults to
            cross entropy.
        init_cfg (dict, optional): Initialisation config. Defaults to
            Normal(std 0.01) linear weights and zero bias.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Sequence[int] = RESNET50_CHANNELS,
                 feat_dims: Sequence[int] = RESNET50_FEAT_DIMS,
                 levels: Sequence[int] = (1, 2, 3, 4, 5),
                 norm_cfg: dict = dict(
                     type='BN', momentum=0.1, affine=False),
                 loss: dict = dict(type='CrossEntropyLoss'),
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01, bias=0.)
                 ) -> None:
        super().__init__(init_cfg)
        if not len(in_channels) == len(feat_dims) == len(levels):
            raise ValueError(
                f'MultiLevelClsHead: in_channels ({len(in_channels)}), '
                f'feat_dims ({len(feat_dims)}) and levels ({len(levels)}) '
                'need one entry per level.')
        self.num_classes = num_classes
        self.names = [f'feature{level}' for level in levels]
        self.norms = nn.ModuleList(
            build_norm_layer(norm_cfg, channels)[1]
            for channels in in_channels)
        self.fcs = nn.ModuleList(
            nn.Linear(dim, num_classes) for dim in feat_dims)
        self.loss_module = MODELS.build(loss)

    def forward(self, feats: Sequence[torch.Tensor]
                ) -> Tuple[torch.Tensor, ...]:
        """Class scores of every level.

        Args:
            feats (Sequence[torch.Tensor]): One pooled ``B x C x h x w`` map
                per level.

        Returns:
            tuple[torch.Tensor]: ``B x num_classes`` logits per level.
        """
        if len(feats) != len(self.names):
            raise ValueError(
                f'MultiLevelClsHead got {len(feats)} inputs for '
                f'{self.names}: make the neck and head levels agree.')
        return tuple(
            self._classify(name, norm, fc, x)
            for name, norm, fc, x in zip(self.names, self.norms, self.fcs,
                                         feats))

    @staticmethod
    def _classify(name: str, norm: nn.Module, fc: nn.Linear,
                  x: torch.Tensor) -> torch.Tensor:
        """Normalise, flatten and classify one level.

        Args:
            name (str): The level's name, for the error message.
            norm (nn.Module): The level's norm layer.
            fc (nn.Linear): The level's classifier.
            x (torch.Tensor): The level's pooled map.

        Returns:
            torch.Tensor: ``B x num_classes`` logits.
        """
        x = norm(x).flatten(1)
        if x.size(1) != fc.in_features:
            raise ValueError(
                f'MultiLevelClsHead: {name} has {x.size(1)} features after '
                f'pooling but feat_dims gives {fc.in_features}; set '
                'feat_dims to channels x pooled height x width of each '
                'level (or change the neck pools).')
        return fc(x)

    def loss(self, feats: Sequence[torch.Tensor],
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Cross entropy and training top-1 accuracy of every level.

        Args:
            feats (Sequence[torch.Tensor]): The pooled maps.
            data_samples (list[DataSample]): Samples with ``gt_label``.

        Returns:
            dict[str, torch.Tensor]: ``loss_<level>`` (summed by MMEngine)
            and ``accuracy_<level>`` (top-1 in %, logged only).
        """
        target = torch.cat([sample.gt_label for sample in data_samples])
        losses = {}
        for name, score in zip(self.names, self(feats)):
            losses[f'loss_{name}'] = self.loss_module(
                score, target, avg_factor=score.size(0))
            # thrs=None: raw logits may be negative for the right class
            losses[f'accuracy_{name}'] = Accuracy.calculate(
                score.detach(), target, topk=(1, ), thrs=(None, ))[0][0]
        return losses

    def predict(self,
                feats: Sequence[torch.Tensor],
                data_samples: Optional[List[Optional[DataSample]]] = None
                ) -> List[DataSample]:
        """Softmax scores of every level.

        Args:
            feats (Sequence[torch.Tensor]): The pooled maps.
            data_samples (list[DataSample | None], optional): Samples to
                fill in; new ones if None.

        Returns:
            list[DataSample]: Samples with ``pred_scores`` (level name ->
            scores) for every level, and ``pred_score`` / ``pred_label`` of
            the last level.
        """
        scores = [F.softmax(score, dim=1).detach() for score in self(feats)]
        labels = scores[-1].argmax(dim=1)
        if data_samples is None:
            data_samples = [None] * labels.size(0)
        outputs = []
        for index, sample in enumerate(data_samples):
            sample = DataSample() if sample is None else sample
            sample.pred_scores = {
                name: score[index]
                for name, score in zip(self.names, scores)
            }
            sample.set_pred_score(scores[-1][index]).set_pred_label(
                labels[index])
            outputs.append(sample)
        return outputs
