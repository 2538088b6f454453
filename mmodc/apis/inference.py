"""Features and clusters of images from a trained ODC / DeepCluster model."""
import copy
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
import torch.nn as nn
from mmengine.dataset import Compose, default_collate
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmpretrain.models.backbones import ResNet, ResNet_CIFAR

from mmodc.models.backbones import SobelBackbone, resnet_levels
from mmodc.models.necks import MultiPooling

ImageInput = Union[str, Path, np.ndarray]
PoolsArg = Union[str, Sequence[dict], None]

#: The loading transforms a test pipeline may start with.
IMAGE_LOADERS = ('LoadImageFromFile', 'CheckedLoadImageFromFile')

#: What :func:`inference_model` can return.
OUTPUTS = ('embedding', 'levels')


def build_test_pipeline(cfg) -> Tuple[Compose, str]:
    """The per-image pipeline of a config, without its image loading.

    The config's ``test_pipeline`` (mmodc's pre-training configs define
    one), else its ``test_dataloader``'s.

    Args:
        cfg (Config): The model's config.

    Returns:
        tuple[Compose, str]: The transforms after the image loader
        and the colour type that transform asks for.
    """
    pipeline = cfg.get('test_pipeline')
    if pipeline is None and 'test_dataloader' in cfg:
        pipeline = cfg.test_dataloader.dataset.get('pipeline')
    if not pipeline:
        raise KeyError(
            f'config {cfg.filename} has no test_pipeline (nor a test '
            'dataloader pipeline); add `test_pipeline = [...]` with '
            "LoadImageFromFile first, as mmodc's pre-training configs do.")
    pipeline = copy.deepcopy(list(pipeline))
    if pipeline[0]['type'] not in IMAGE_LOADERS:
        raise ValueError(
            f'the test_pipeline of {cfg.filename} starts with '
            f"{pipeline[0]['type']}, not one of {IMAGE_LOADERS}; images "
            'are read from files or arrays, so put a loader first.')
    color_type = pipeline[0].get('color_type', 'color')
    with DefaultScope.overwrite_default_scope('mmodc'):
        return Compose(pipeline[1:]), color_type


def read_image(image: ImageInput, color_type: str) -> np.ndarray:
    """An image file or array as the pipeline's loader would give it.

    Args:
        image (str | Path | np.ndarray): A file, or an array as
            ``mmcv.imread`` returns it (``H x W x 3`` BGR or ``H x W``).
        color_type (str): ``'color'`` or ``'grayscale'``.

    Returns:
        np.ndarray: ``H x W x 3`` BGR (color) or ``H x W`` (grayscale).
    """
    if isinstance(image, (str, Path)):
        if not Path(image).is_file():
            raise FileNotFoundError(f'image {image} not found.')
        return mmcv.imread(str(image), flag=color_type)
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise TypeError(
            'give an image path or an H x W (grey) or H x W x 3 (BGR) '
            f'array, got {type(image).__name__} '
            f'{getattr(image, "shape", "")}.')
    if color_type == 'grayscale' and image.ndim == 3:
        return mmcv.bgr2gray(image)
    if color_type != 'grayscale' and image.ndim == 2:
        return mmcv.gray2bgr(image)
    return image


def preprocess(model: BaseModel,
               images: Union[ImageInput, Sequence[ImageInput]]
               ) -> torch.Tensor:
    """Images through the config's test pipeline and the data preprocessor.

    Args:
        model (BaseModel): A model from :func:`get_model` / :func:`init_model`
            (``model.cfg`` is its config).
        images: One image (path or array) or a list of them.

    Returns:
        torch.Tensor: The ``B x C x H x W`` model inputs.
    """
    if isinstance(images, (str, Path, np.ndarray)):
        images = [images]
    pipeline, color_type = build_test_pipeline(model.cfg)
    samples = []
    for image in images:
        img = read_image(image, color_type)
        samples.append(
            pipeline(dict(img=img, img_shape=img.shape[:2],
                          ori_shape=img.shape[:2])))
    return model.data_preprocessor(default_collate(samples), False)['inputs']


def backbone_levels(backbone: nn.Module, inputs: torch.Tensor,
                    levels: Sequence[int]) -> List[torch.Tensor]:
    """feature1..5 (stem, stages 1..4) of a ResNet backbone, maybe Sobel.

    Args:
        backbone (nn.Module): A ``ResNet`` / ``ResNet_CIFAR`` or a
            :class:`SobelBackbone` around one.
        inputs (torch.Tensor): Preprocessed images.
        levels (Sequence[int]): Levels from 1 (stem) to 5 (last stage),
            in network order.

    Returns:
        list[torch.Tensor]: The feature maps, in network order.
    """
    if isinstance(backbone, SobelBackbone):
        inputs, backbone = backbone.sobel_filter(inputs), backbone.backbone
    if not isinstance(backbone, ResNet):
        raise TypeError(
            'feature1..feature5 need a ResNet backbone (ResNet, '
            f'ResNet_CIFAR, maybe in a SobelBackbone), not '
            f'{type(backbone).__name__}.')
    return list(resnet_levels(backbone, inputs,
                              [level - 1 for level in levels]))


def default_pools(backbone: nn.Module, levels: Sequence[int]) -> PoolsArg:
    """The reference pooling for a ResNet-50, global pooling otherwise.

    Args:
        backbone (nn.Module): The model's backbone.
        levels (Sequence[int]): The levels to pool.

    Returns:
        str | list[dict]: A :class:`MultiPooling` ``pools`` argument.
    """
    resnet = getattr(backbone, 'backbone', backbone)
    if (isinstance(resnet, ResNet) and not isinstance(resnet, ResNet_CIFAR)
            and resnet.depth == 50):
        return 'resnet50'
    return [dict(output_size=1)] * len(levels)


def batch_statistics_norms(module: nn.Module) -> List[str]:
    """Names of the BatchNorm layers that normalise with the statistics of
    each batch (``track_running_stats=False``), even in eval mode.

    Args:
        module (nn.Module): E.g. a model's neck.

    Returns:
        list[str]: The layers' names.
    """
    return [
        name for name, layer in module.named_modules()
        if isinstance(layer, nn.modules.batchnorm._BatchNorm)
        and not layer.track_running_stats
    ]


def check_batch_statistics(model: BaseModel, batch_size: int) -> None:
    """Refuse one image for a neck that normalises with batch statistics.

    Args:
        model (BaseModel): The model.
        batch_size (int): Number of images.
    """
    batch_norms = batch_statistics_norms(model.neck)
    if batch_norms and batch_size < 2:
        raise ValueError(
            f'the neck of {model.cfg.filename} normalises with the '
            f'statistics of the batch ({", ".join(batch_norms)} has '
            'track_running_stats=False), so one image has no embedding; '
            'pass several images together.')


@torch.no_grad()
def inference_model(model: BaseModel,
                    images: Union[ImageInput, Sequence[ImageInput]],
                    output: str = 'embedding',
                    levels: Sequence[int] = (1, 2, 3, 4, 5),
                    pools: PoolsArg = None) -> Dict[str, torch.Tensor]:
    """The embedding and cluster, or feature1..5, of images.

    The images go through the config's ``test_pipeline`` and the model's
    data preprocessor (in eval mode). An image's features do not depend
    on the other images of the call, except in models whose BatchNorm
    layers normalise with batch statistics (``track_running_stats=False``;
    such a neck refuses a single image).

    Args:
        model (BaseModel): An ODC or DeepCluster model from
            :func:`get_model` or :func:`init_model`.
        images: An image path or array (``H x W x 3`` BGR or ``H x W``
            grey, as ``mmcv.imread`` gives), or a list of them.
        output (str): ``'embedding'``: the neck's embedding (256-d for the
            ImageNet ODC) with the cluster the head assigns; ``'levels'``:
            the pooled backbone levels feature1 (stem) .. feature5.
        levels (Sequence[int]): Levels for ``output='levels'``.
        pools (str | Sequence[dict], optional): Their pooling, as
            :class:`MultiPooling`'s ``pools``. Defaults to the benchmarks'
            reference pooling for a ResNet-50 (9216 .. 8192 dims at 224 px)
            and global average pooling for other networks.

    Returns:
        dict[str, torch.Tensor]: One row per image. ``embedding`` (B x d),
        ``cluster`` (B, the head's arg-max) and ``cluster_score`` (B, its
        softmax probability); or ``feature<level>`` (B x dims) per level.

    Example:
        >>> model = get_model('odc_resnet50_8xb64-steplr-440e_in1k', True)
        >>> inference_model(model, 'demo.jpg')['cluster']
    """
    if output not in OUTPUTS:
        raise ValueError(f'output={output!r}; use one of {OUTPUTS}.')
    inputs = preprocess(model, images)
    if output == 'levels':
        return pooled_levels(model.backbone, inputs, levels, pools)
    check_batch_statistics(model, inputs.shape[0])
    embedding = model.extract_feat(inputs)
    scores, clusters = model.head(embedding).softmax(dim=1).max(dim=1)
    return dict(embedding=embedding, cluster=clusters, cluster_score=scores)


def pooled_levels(backbone: nn.Module, inputs: torch.Tensor,
                  levels: Sequence[int],
                  pools: PoolsArg = None) -> Dict[str, torch.Tensor]:
    """feature1..5 of a backbone, pooled and flattened.

    Args:
        backbone (nn.Module): A ResNet backbone, maybe Sobel.
        inputs (torch.Tensor): Preprocessed images.
        levels (Sequence[int]): Levels from 1 (stem) to 5.
        pools (str | Sequence[dict], optional): See
            :func:`inference_model`.

    Returns:
        dict[str, torch.Tensor]: ``feature<level>``: B x dims.
    """
    levels = sorted(levels)
    pooling = MultiPooling(levels,
                           pools or default_pools(backbone, levels))
    maps = pooling(backbone_levels(backbone, inputs, levels))
    return {f'feature{level}': feature.flatten(1)
            for level, feature in zip(levels, maps)}
