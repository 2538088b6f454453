"""What the algorithms share: forward modes, memory format; backbone, neck
and cluster head for ODC, DeepCluster and rotation prediction."""
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample

from mmodc.registry import MODELS
from ..utils.finite_checks import check_finite_features, check_finite_loss


def sample_indices(algorithm: str, data_samples: List[DataSample],
                   device: torch.device) -> torch.Tensor:
    """The dataset indices of a training batch (memory rows).

    Args:
        algorithm (str): Who asks, for the error.
        data_samples (list[DataSample]): The batch's samples.
        device (torch.device): Where the memory is.

    Returns:
        torch.Tensor: ``B`` indices.

    Raises:
        KeyError: The samples carry no ``sample_idx``.
    """
    if not data_samples or 'sample_idx' not in data_samples[0]:
        raise KeyError(
            f'{algorithm} needs the dataset index of every sample: keep '
            "'sample_idx' in the meta_keys of PackInputs (the default) in "
            'the train pipeline.')
    return torch.as_tensor([sample.sample_idx for sample in data_samples],
                           device=device)


class SelfSupervisedModel(BaseModel):
    """What every mmodc algorithm shares: the forward modes and the
    optional channels-last memory format. Subclasses implement
    :meth:`extract_feat`, :meth:`loss` and :meth:`predict`.

    Args:
        data_preprocessor (dict, optional): Data preprocessor config;
            defaults to ``ClsDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
        channels_last (bool): Keep the convolution weights and the input
            images in the channels-last memory format, which oneDNN runs
            faster on CPUs (``benchmarks/train_step.py``). The results are
            the same up to float rounding. Defaults to False.
    """

    def __init__(self,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 channels_last: bool = False) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='ClsDataPreprocessor')
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.memory_format = (torch.channels_last
                              if channels_last else torch.contiguous_format)

    def use_memory_format(self) -> None:
        """Put the built modules in the model's memory format (call at the
        end of ``__init__``)."""
        self.to(memory_format=self.memory_format)

    def init_weights(self) -> None:
        """Initialise in the default memory format (random initialisers
        fill memory in storage order: the same seed gives the same weights
        in either format), then go back to the model's format."""
        self.to(memory_format=torch.contiguous_format)
        super().init_weights()
        self.to(memory_format=self.memory_format)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'
                ) -> Union[torch.Tensor, Dict[str, torch.Tensor],
                           List[DataSample]]:
        """Dispatch on ``mode``: 'tensor' (features), 'loss' or 'predict'.

        Args:
            inputs (torch.Tensor): The preprocessed images.
            data_samples (list[DataSample], optional): Their data samples;
                'loss' needs their pseudo-labels.
            mode (str): One of 'tensor', 'loss', 'predict'.

        Returns:
            The features, a dict of losses, or the data samples with
            predicted clusters.
        """
        if mode == 'tensor':
            return self.extract_feat(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'{type(self).__name__}: invalid mode "{mode}"; '
                           'use tensor, loss or predict.')

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """The losses of a training batch.

        Args:
            inputs (torch.Tensor): The preprocessed images.
            data_samples (list[DataSample]): Their data samples.

        Returns:
            dict[str, torch.Tensor]: The losses (and logged values).
        """
        raise NotImplementedError


class BaseClusteringModel(SelfSupervisedModel):
    """A backbone, a neck and a cluster classification head.

    Subclasses implement :meth:`loss`: the head is trained to predict each
    image's pseudo-label (its cluster).

    Args:
        backbone (dict): Backbone config (any MMPretrain backbone, or a
            :class:`SobelBackbone` around one).
        neck (dict): Neck config.
        head (dict): Head config, e.g. :class:`ClusterClsHead`.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict, optional): Initialisation config.
        channels_last (bool): Channels-last convolutions (see
            :class:`SelfSupervisedModel`). Defaults to False.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 channels_last: bool = False) -> None:
        super().__init__(data_preprocessor, init_cfg, channels_last)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.head = MODELS.build(head)
        self.use_memory_format()

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """The features that are clustered and classified (neck output).

        Args:
            inputs (torch.Tensor): ``B x C x H x W`` images.

        Returns:
            torch.Tensor: ``B x d`` features.
        """
        inputs = inputs.contiguous(memory_format=self.memory_format)
        return self.neck(self.backbone(inputs))[-1].flatten(1)

    def training_features(self, inputs: torch.Tensor,
                          data_samples: List[DataSample]) -> torch.Tensor:
        """:meth:`extract_feat` of a training batch, stopped with the
        samples at fault when NaN or Inf come out.

        Args:
            inputs (torch.Tensor): The preprocessed images.
            data_samples (list[DataSample]): Their data samples.

        Returns:
            torch.Tensor: ``B x d`` finite features.
        """
        features = self.extract_feat(inputs)
        check_finite_features(type(self).__name__, inputs, features,
                              data_samples)
        return features

    def views_loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
                   data_samples: List[DataSample], labels: torch.Tensor,
                   class_weights: torch.Tensor
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The head's loss against the pseudo-labels, averaged over the
        views of the batch (one view, or several with multi-crop from
        :class:`BatchAugmentDataPreprocessor`), checked to be finite.

        Args:
            inputs (torch.Tensor | list[torch.Tensor]): The batch, or its
                views (the first is the main one).
            data_samples (list[DataSample]): The samples.
            labels (torch.Tensor): The samples' pseudo-labels.
            class_weights (torch.Tensor): Per-cluster loss weights.

        Returns:
            tuple[torch.Tensor, torch.Tensor]: The loss and the main view's
            features.
        """
        views = list(inputs) if isinstance(inputs, (list, tuple)) else [
            inputs
        ]
        main = self.training_features(views[0], data_samples)
        losses = [self.head.loss(main, labels, class_weights)]
        losses += [
            self.head.loss(
                self.training_features(view, data_samples), labels,
                class_weights) for view in views[1:]
        ]
        loss = losses[0] if len(losses) == 1 else torch.stack(losses).mean()
        check_finite_loss(type(self).__name__, loss, data_samples,
                          len(data_samples))
        return loss, main

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """Predict each image's cluster and keep its features.

        Args:
            inputs (torch.Tensor): The preprocessed images.
            data_samples (list[DataSample], optional): Samples to fill.

        Returns:
            list[DataSample]: With ``pred_score``, ``pred_label`` (cluster)
            and ``embedding``.
        """
        features = self.extract_feat(inputs)
        scores = self.head(features).softmax(dim=1)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(inputs.shape[0])]
        for sample, score, feature in zip(data_samples, scores, features):
            sample.set_pred_score(score).set_pred_label(score.argmax())
            sample.set_field(feature, 'embedding')
        return data_samples
