"""A training set whose samples carry their current cluster label."""
from typing import Union

import torch
from mmengine.dataset import BaseDataset

from mmodc.registry import DATASETS


@DATASETS.register_module()
class DeepClusterDataset:
    """Wrap any MMEngine dataset so that each sample gets the cluster label
    of the last clustering, as ``clustering_label``.

    :class:`DeepClusterHook` calls :meth:`assign_labels` after every
    clustering. The label is put into the sample's data info before the
    wrapped dataset's pipeline runs, so ``PackInputs(algorithm_keys=
    ['clustering_label'])`` packs it into the data sample. The labels live in
    shared memory: dataloader workers (persistent ones included) see every
    new assignment without being restarted.

    Args:
        dataset (dict | BaseDataset): The training set (config or object),
            with the training pipeline.
    """

    def __init__(self, dataset: Union[dict, BaseDataset]) -> None:
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        self.dataset = dataset
        self.dataset.full_init()
        self.labels = torch.full((len(self.dataset), ), -1,
                                 dtype=torch.long).share_memory_()

    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's meta information."""
        return self.dataset.metainfo

    def full_init(self) -> None:
        """Initialise the wrapped dataset (done at construction)."""
        self.dataset.full_init()

    def __len__(self) -> int:
        return len(self.dataset)

    def assign_labels(self, labels: torch.Tensor) -> None:
        """Set the cluster label of every sample.

        Args:
            labels (torch.Tensor): ``len(self)`` non-negative cluster ids.
        """
        labels = torch.as_tensor(labels)
        if labels.shape != self.labels.shape:
            raise ValueError(
                f'DeepClusterDataset: {labels.numel()} labels for a dataset '
                f'of {len(self)} samples; cluster the whole training set.')
        if labels.numel() and int(labels.min()) < 0:
            raise ValueError(
                'DeepClusterDataset: negative cluster labels; labels must be '
                'cluster ids in [0, k).')
        self.labels.copy_(labels)

    def __getitem__(self, idx: int) -> dict:
        info = self.dataset.get_data_info(idx)
        info['clustering_label'] = int(self.labels[idx])
        data = self.dataset.pipeline(info)
        if data is None:
            raise RuntimeError(
                f'DeepClusterDataset: the pipeline dropped sample {idx} '
                f'({info.get("img_path", "in memory")}); every training '
                'sample must produce an output.')
        return data
