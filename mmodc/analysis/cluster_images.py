"""Turn a folder of images into clusters, embeddings, neighbours,
near-duplicates and an HTML gallery with a trained ODC / DeepCluster model
(the driver of ``tools/cluster_images.py``).

Every readable image gets one row in every output; every file that is not
read is listed with the reason (log, ``unreadable.csv``, the report).
"""
import copy
import csv
import json
import os
import os.path as osp
import shutil
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MMLogger
from torch.utils.data import DataLoader
from tqdm import tqdm

from mmodc.apis.inference import batch_statistics_norms, build_test_pipeline
from mmodc.apis.model_hub import (
    get_model,
    get_model_info,
    init_model,
    is_url,
    list_models,
    local_checkpoint,
)
from mmodc.clustering import kmeans
from mmodc.clustering.neighbours import (
    centroid_similarities,
    cluster_means,
    nearest_neighbours,
    ranks_within_clusters,
    similar_pairs,
    unit_rows,
)
from mmodc.datasets.image_files import (
    IMAGE_EXTENSIONS,
    ImageFileDataset,
    ImageListing,
    collate_readable,
    list_image_files,
)
from mmodc.datasets.transforms import UnreadableImageError
from mmodc.engine.data_sizes import auto_num_clusters
from mmodc.engine.extractor import pool_last_stage, recompute_bn_statistics
from mmodc.evaluation import clustering_scores
from .embedding_map import embedding_map, plot_confusion, plot_embedding_map
from .html_gallery import GalleryContent, HtmlGallery

#: Which features are embedded: the pooled last backbone stage (what the
#: benchmarks evaluate) or the neck's embedding (what ODC clusters).
FEATURES = ('backbone', 'neck')
NUM_NEIGHBOURS = 5
#: Where the clusters come from.
CLUSTER_SOURCES = ('kmeans', 'memory', 'head')
CLUSTER_SOURCE_NAMES = dict(kmeans='faiss k-means on the embeddings',
                            memory='pseudo-labels of the ODC memory',
                            head='classes predicted by the cluster head')


@dataclass
class FolderEmbeddings:
    """The embedded images of a folder.

    Attributes:
        paths (list[str]): Readable images, relative to the folder.
        embeddings (np.ndarray): ``N x d`` unit-length float32 rows.
        unreadable (list[tuple[str, str]]): ``(path, reason)`` of every
            file that was not embedded.
        seconds (float): Time of decoding and embedding.
        head_clusters (np.ndarray, optional): ``N`` int64 classes that the
            model's cluster head predicts, when asked for.
    """
    paths: List[str]
    embeddings: np.ndarray
    unreadable: List[Tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.
    head_clusters: Optional[np.ndarray] = None


def load_embedding_model(checkpoint: str,
                         config: Optional[str] = None,
                         device: str = 'cpu') -> nn.Module:
    """A trained model from a model-zoo name, a local file or a URL.

    Args:
        checkpoint (str): A name of :func:`mmodc.apis.list_models` with
            weights, a checkpoint path or an ``http(s)://`` URL.
        config (str, optional): The model's config. Defaults to the
            config saved in the checkpoint (MMEngine's ``meta.cfg``), or
            for a URL the model-zoo entry with those weights.
        device (str): Where to run it.

    Returns:
        nn.Module: The model in eval mode, ``model.cfg`` its config.
    """
    if config is None and checkpoint in list_models(with_weights=True):
        return get_model(checkpoint, pretrained=True, device=device)
    if config is None:
        config = (_zoo_config_of(checkpoint) if is_url(checkpoint) else
                  _saved_config(local_checkpoint(checkpoint)))
    return init_model(config, checkpoint, device)


def _zoo_config_of(url: str) -> Config:
    """The config of the model-zoo entry whose weights are ``url``."""
    for name in list_models(with_weights=True):
        if get_model_info(name).weights == url:
            return get_model(name).cfg
    raise ValueError(
        f'{url} is the weights of no mmodc model-zoo entry, so its config '
        'is unknown; pass --config with the config it was trained with.')


def _saved_config(path: str) -> Config:
    """The config MMEngine's Runner saved in a checkpoint."""
    meta = torch.load(path, map_location='cpu', weights_only=False).get(
        'meta') or {}
    if 'cfg' not in meta:
        raise ValueError(
            f'checkpoint {path} holds no config (meta.cfg; MMEngine\'s '
            'Runner saves one, converted checkpoints do not); pass '
            '--config with the config it was trained with.')
    return Config.fromstring(meta['cfg'], '.py')


def feature_forward(model: nn.Module, feature: str,
                    with_head: bool = False):
    """The function from preprocessed inputs to the chosen features (and
    the cluster head's predicted classes).

    Args:
        model (nn.Module): An ODC or DeepCluster model.
        feature (str): One of :data:`FEATURES`.
        with_head (bool): Also predict each image's class with the
            model's cluster head (on the neck's embedding).

    Returns:
        Callable[[torch.Tensor], tuple]: ``B x d`` features and ``B``
        classes (None without ``with_head``).
    """
    if feature not in FEATURES:
        raise ValueError(f'feature={feature!r}; use one of {FEATURES}.')
    batch_norms = batch_statistics_norms(model.neck)
    if batch_norms and (feature == 'neck' or with_head):
        raise ValueError(
            f'the neck normalises with the statistics of each batch '
            f'({", ".join(batch_norms)} keeps no running statistics), so '
            'its embedding of an image depends on the other images; use '
            '--feature backbone with k-means clusters.')

    def forward(inputs: torch.Tensor
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        stages = model.backbone(inputs)
        neck = (model.neck(stages)[-1].flatten(1)
                if feature == 'neck' or with_head else None)
        features = pool_last_stage(stages) if feature == 'backbone' else neck
        classes = model.head(neck).argmax(1) if with_head else None
        return features, classes

    return forward


def folder_loader(model: nn.Module, listing: ImageListing,
                  batch_size: int, num_workers: int,
                  shuffle_seed: Optional[int] = None) -> DataLoader:
    """Batches of the listing's images through the model's test
    pipeline (:func:`mmodc.datasets.image_files.collate_readable` items).

    Args:
        model (nn.Module): The model (``model.cfg`` has the pipeline).
        listing (ImageListing): The images.
        batch_size (int): Images per batch.
        num_workers (int): Decoding processes.
        shuffle_seed (int, optional): Shuffle with this seed; in order
            when None.

    Returns:
        DataLoader: The loader.
    """
    pipeline, color_type = build_test_pipeline(model.cfg)
    dataset = ImageFileDataset(listing.root, listing.images, pipeline,
                               color_type)
    generator = None
    if shuffle_seed is not None:
        generator = torch.Generator().manual_seed(shuffle_seed)
    return DataLoader(dataset, batch_size, shuffle=generator is not None,
                      generator=generator, num_workers=num_workers,
                      collate_fn=collate_readable)


def calibrate_batch_norms(model: nn.Module, listing: ImageListing,
                          num_batches: int, batch_size: int,
                          num_workers: int, seed: int = 0) -> None:
    """Set the model's BatchNorm running statistics to their averages over
    ``num_batches`` random batches of the folder (unaugmented), as
    :class:`mmodc.engine.hooks.BatchNormCalibrationHook` does in training.

    Args:
        model (nn.Module): The model; left in eval mode.
        listing (ImageListing): The images.
        num_batches (int): Batches to average over.
        batch_size (int): Images per batch.
        num_workers (int): Decoding processes.
        seed (int): Seed of the batches' order.
    """
    loader = folder_loader(model, listing, batch_size, num_workers, seed)
    batches = (batch for batch, _, _ in loader if batch is not None)
    recompute_bn_statistics(
        model, batches, num_batches,
        forward=lambda net, data: net.extract_feat(data['inputs']))
    model.eval()


@torch.no_grad()
def embed_folder(model: nn.Module,
                 listing: ImageListing,
                 feature: str = 'backbone',
                 batch_size: int = 64,
                 num_workers: int = 0,
                 strict: bool = False,
                 with_head: bool = False) -> FolderEmbeddings:
    """Decode and embed every image of a listing, with a progress bar.

    Args:
        model (nn.Module): The model (eval mode).
        listing (ImageListing): The folder's images.
        feature (str): One of :data:`FEATURES`.
        batch_size (int): Images per batch.
        num_workers (int): DataLoader processes decoding images.
        strict (bool): Stop at the first file that cannot be read
            (:class:`UnreadableImageError`) instead of listing it.
        with_head (bool): Also keep the cluster head's predicted classes
            (``head_clusters``).

    Returns:
        FolderEmbeddings: The readable images and their embeddings.
    """
    start = time.perf_counter()
    loader = folder_loader(model, listing, batch_size, num_workers)
    forward = feature_forward(model, feature, with_head)
    rows, classes, indices, unreadable = [], [], [], []
    for batch, batch_indices, errors in tqdm(
            loader, desc='embedding', unit='batch', leave=False):
        for index, reason in errors:
            if strict:
                raise UnreadableImageError(
                    osp.join(listing.root, listing.images[index]), reason,
                    hint='--strict stops at the first unreadable file; '
                    'without it such files are listed and skipped')
            unreadable.append((listing.images[index], reason))
        if batch is not None:
            inputs = model.data_preprocessor(batch, False)['inputs']
            features, predicted = forward(inputs)
            rows.append(features.flatten(1).float().cpu())
            classes.append(predicted.cpu() if with_head else None)
            indices.append(batch_indices)
    if not rows:
        raise ValueError(
            f'none of the {len(listing.images)} image files of '
            f'{listing.root} could be read (first: {unreadable[0][0]}: '
            f'{unreadable[0][1]}).')
    embeddings = unit_rows(torch.cat(rows).numpy())
    paths = [listing.images[i] for i in torch.cat(indices).tolist()]
    head_clusters = torch.cat(classes).numpy() if with_head else None
    return FolderEmbeddings(paths, embeddings, unreadable,
                            time.perf_counter() - start, head_clusters)


def memory_clusters(model: nn.Module, folder: str,
                    paths: Sequence[str]) -> np.ndarray:
    """The pseudo-labels that ODC's memory holds for these images.

    The checkpoint must have been trained on this folder (its config's
    ``image_folder``) with these images: the memory's label bank is in the
    order of the training set, which is rebuilt from the config to map
    each image to its row.

    Args:
        model (nn.Module): An ODC model loaded from such a checkpoint.
        folder (str): The image folder.
        paths (Sequence[str]): The readable images, relative to it.

    Returns:
        np.ndarray: ``N`` int64 cluster ids, in the order of ``paths``.
    """
    memory = getattr(model, 'memory_bank', None)
    trained_on = model.cfg.get('image_folder')
    if memory is None or trained_on is None:
        raise ValueError(
            'clusters from the memory need an ODC checkpoint trained on an '
            'image folder (an image-folder config); cluster with k-means '
            'instead.')
    if osp.realpath(trained_on) != osp.realpath(folder):
        raise ValueError(
            f'the checkpoint was trained on {trained_on}, not {folder}: its '
            'memory holds pseudo-labels of other images; cluster with '
            'k-means instead.')
    trained = np.array(training_image_paths(model.cfg, folder))
    if len(trained) != len(memory.label_bank):
        raise ValueError(
            f'{folder} lists {len(trained)} training images but the memory '
            f'holds {len(memory.label_bank)}: the folder changed since '
            'training; cluster with k-means instead.')
    order = np.argsort(trained)
    wanted = np.asarray(paths)
    rows = order[np.searchsorted(trained, wanted, sorter=order).clip(
        0, len(trained) - 1)]
    missing = wanted[trained[rows] != wanted]
    if len(missing):
        raise ValueError(
            f'{len(missing)} images of {folder} were not in the training '
            f'set (e.g. {missing[0]}); cluster with k-means instead.')
    return memory.label_bank.cpu().numpy()[rows].astype(np.int64)


def training_image_paths(cfg: Config, folder: str) -> List[str]:
    """The training set's image paths, relative to ``folder``, in the
    order of its indices (the order of the memory's banks)."""
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope('mmodc')
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    if dataset_cfg.type == 'DeepClusterDataset':
        dataset_cfg = dataset_cfg.dataset
    dataset_cfg.pipeline = []
    dataset = DATASETS.build(dataset_cfg)
    return [osp.relpath(dataset.get_data_info(i)['img_path'], folder)
            for i in range(len(dataset))]


def label_ids(labels: Dict[str, str],
              paths: Sequence[str]) -> Tuple[List[str], np.ndarray]:
    """Class names (sorted) and each image's class id (-1: no label).

    Args:
        labels (dict[str, str]): Labels by image path.
        paths (Sequence[str]): The images.

    Returns:
        tuple[list[str], np.ndarray]: The names and ``N`` int64 ids.
    """
    names = sorted(set(labels.values()))
    ids = {name: index for index, name in enumerate(names)}
    return names, np.array([ids.get(labels.get(path), -1) for path in paths],
                           dtype=np.int64)


def read_labels(path: str, images: Sequence[str]) -> Dict[str, str]:
    """Read a ``path,label`` CSV (a header row ``path,label`` is allowed).

    Args:
        path (str): The CSV file.
        images (Sequence[str]): The folder's images (relative paths).

    Returns:
        dict[str, str]: The label of each listed image.
    """
    known = set(images)
    labels = {}
    with open(path, newline='') as file:
        for line, row in enumerate(csv.reader(file), 1):
            if line == 1 and [cell.strip() for cell in row] == ['path',
                                                                'label']:
                continue
            if len(row) != 2:
                raise ValueError(f'{path}, line {line}: expected '
                                 f'"path,label", got {row}.')
            image, label = (cell.strip() for cell in row)
            if image not in known:
                raise ValueError(
                    f'{path}, line {line}: {image!r} is not an image of the '
                    'folder; paths are relative to the folder, as in '
                    'assignments.csv.')
            labels[image] = label
    if not labels:
        raise ValueError(f'{path} holds no labels.')
    return labels


class ClusterImages:
    """Cluster the images of a folder and write every output into a work
    directory.

    Args:
        folder (str): The images (sub-folders too; links followed).
        work_dir (str): Where the outputs go.
        model (nn.Module): The embedding model (eval mode).
        num_clusters (int, optional): K. Defaults to the training rule of
            :func:`mmodc.engine.auto_num_clusters` (N / 1000 in 10..10000).
        feature (str): One of :data:`FEATURES`.
        labels (str, optional): A ``path,label`` CSV to score against.
        duplicate_threshold (float): Cosine similarity from which two
            images are near-duplicates.
        copy (bool): Copy the images into ``clusters/`` instead of links.
        strict (bool): Stop at the first unreadable file.
        batch_size (int): Images per batch.
        num_workers (int): Processes decoding images and thumbnails.
        map_points (int): Images drawn on the 2-D map at most.
        seed (int): Seed of k-means, the map and the calibration batches.
        model_name (str): How the report names the model.
        clusters_from (str): ``'kmeans'`` (faiss k-means on the
            embeddings), ``'memory'`` (the pseudo-labels in the ODC
            memory of a checkpoint trained on this folder) or ``'head'``
            (the class that the model's cluster head predicts, any folder:
            the clusters of the training's last labels).
        calibrate_bn_batches (int): Recompute the BatchNorm running
            statistics over this many random batches of the folder first
            (0: keep the checkpoint's; mmodc's training saves calibrated
            ones).
    """

    def __init__(self, folder: str, work_dir: str, model: nn.Module,
                 num_clusters: Optional[int] = None,
                 feature: str = 'backbone',
                 labels: Optional[str] = None,
                 duplicate_threshold: float = 0.99,
                 copy: bool = False, strict: bool = False,
                 batch_size: int = 64, num_workers: int = 0,
                 map_points: int = 5000, seed: int = 0,
                 model_name: str = '', clusters_from: str = 'kmeans',
                 calibrate_bn_batches: int = 0) -> None:
        self.folder = folder
        self.work_dir = work_dir
        self.model = model
        self.num_clusters = num_clusters
        self.feature = feature
        self.labels_file = labels
        self.duplicate_threshold = duplicate_threshold
        self.copy = copy
        self.strict = strict
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.map_points = map_points
        self.seed = seed
        self.calibrate_bn_batches = calibrate_bn_batches
        if clusters_from not in CLUSTER_SOURCES:
            raise ValueError(f'clusters_from={clusters_from!r}; use one of '
                             f'{CLUSTER_SOURCES}.')
        if clusters_from != 'kmeans' and num_clusters is not None:
            raise ValueError(f'the {clusters_from} has its own number of '
                             'clusters; give no K with clusters from it.')
        self.clusters_from = clusters_from
        self.model_name = model_name
        self.seconds: Dict[str, float] = {}
        self.logger = MMLogger.get_current_instance()

    def run(self) -> dict:
        """List, embed, cluster and write everything.

        Returns:
            dict: The summary also saved as ``summary.json``.
        """
        self._check_work_dir()
        listing = self._timed('list', list_image_files, self.folder)
        self._check_listing(listing)
        labels = (read_labels(self.labels_file, listing.images)
                  if self.labels_file else None)
        if self.calibrate_bn_batches:
            self._timed('calibrate', calibrate_batch_norms, self.model,
                        listing, self.calibrate_bn_batches, self.batch_size,
                        self.num_workers, self.seed)
        data = embed_folder(self.model, listing, self.feature,
                            self.batch_size, self.num_workers, self.strict,
                            with_head=self.clusters_from == 'head')
        self.seconds['embed'] = data.seconds
        unreadable = data.unreadable + [
            (loop, 'symbolic link loop: folder not entered')
            for loop in listing.symlink_loops]
        self._log_unreadable(unreadable)
        clusters, centroids = self._timed('cluster', self._cluster, data)
        num_clusters = len(centroids)
        similarity = centroid_similarities(data.embeddings, clusters,
                                           centroids)
        ranks = ranks_within_clusters(clusters, similarity)
        neighbours = self._timed(
            'neighbours', nearest_neighbours, data.embeddings,
            min(NUM_NEIGHBOURS, len(data.paths) - 1))
        pairs = self._timed('duplicates', similar_pairs, data.embeddings,
                            self.duplicate_threshold)
        os.makedirs(self.work_dir, exist_ok=True)
        np.save(osp.join(self.work_dir, 'centroids.npy'), centroids)
        self._timed('write files', self._write_files, data, clusters,
                    similarity, ranks, neighbours, pairs, unreadable)
        folders = self._timed('cluster folders', self._write_cluster_folders,
                              data.paths, clusters, ranks)
        _write_lines(osp.join(self.work_dir, 'other_files.txt'),
                     listing.other_files)
        summary = self._summary(listing, data, num_clusters, pairs,
                                unreadable)
        report_dir = osp.join(self.work_dir, 'report')
        os.makedirs(report_dir, exist_ok=True)
        figures = self._timed('map', self._draw_figures, report_dir, data,
                              clusters, labels, summary)
        gallery = HtmlGallery(
            GalleryContent(
                osp.abspath(self.folder), data.paths, clusters, similarity,
                ranks, pairs[0], pairs[1], unreadable,
                self._summary_lines(summary), figures,
                {c: osp.join('..', 'clusters', name)
                 for c, name in folders.items()}),
            report_dir, num_workers=self.num_workers)
        summary['report'] = self._timed('report', gallery.write)
        summary['seconds'] = self.seconds
        with open(osp.join(self.work_dir, 'summary.json'), 'w') as file:
            json.dump(summary, file, indent=2)
        return summary

    def _timed(self, step: str, function, *args):
        start = time.perf_counter()
        result = function(*args)
        self.seconds[step] = time.perf_counter() - start
        return result

    def _check_work_dir(self) -> None:
        folder = osp.realpath(self.folder)
        work_dir = osp.realpath(self.work_dir)
        if work_dir == folder or work_dir.startswith(folder + os.sep):
            raise ValueError(
                f'the work dir {self.work_dir} is inside the image folder '
                f'{self.folder}: its thumbnails and cluster links would be '
                'read as images next time; choose a work dir outside it.')

    def _check_listing(self, listing: ImageListing) -> None:
        if not listing.images:
            others = (f' ({len(listing.other_files)} other files, e.g. '
                      f'{listing.other_files[0]})' if listing.other_files
                      else '')
            raise ValueError(
                f'{self.folder} holds no images{others}; images are files '
                f'ending in {", ".join(IMAGE_EXTENSIONS)}.')
        if listing.other_files:
            self.logger.warning(
                f'{len(listing.other_files)} files without an image suffix '
                f'are not read (listed in other_files.txt), e.g. '
                f'{listing.other_files[0]}')

    def _log_unreadable(self, unreadable: List[Tuple[str, str]]) -> None:
        for path, reason in unreadable:
            self.logger.warning(f'skipped {path}: {reason}')
        if unreadable:
            self.logger.warning(
                f'{len(unreadable)} files were not read (unreadable.csv, '
                'and the report lists them); --strict stops at the first.')

    def _cluster(self, data: FolderEmbeddings
                 ) -> Tuple[np.ndarray, np.ndarray]:
        """Cluster ids and centroids: faiss k-means, or the ODC memory's
        pseudo-labels or the head's classes with the mean embedding of
        each."""
        if self.clusters_from == 'head':
            return data.head_clusters, cluster_means(
                data.embeddings, data.head_clusters,
                self.model.head.num_classes)
        if self.clusters_from == 'memory':
            clusters = memory_clusters(self.model, self.folder, data.paths)
            return clusters, cluster_means(
                data.embeddings, clusters,
                len(self.model.memory_bank.centroids))
        clusters, centroids = kmeans(
            torch.from_numpy(data.embeddings),
            self._resolve_clusters(len(data.paths)), self.seed)
        return clusters.numpy(), centroids.numpy()

    def _resolve_clusters(self, num_images: int) -> int:
        if self.num_clusters is None:
            return min(auto_num_clusters(num_images), num_images)
        if self.num_clusters > num_images:
            raise ValueError(
                f'--k {self.num_clusters} is more clusters than the '
                f'{num_images} readable images of {self.folder}; lower '
                '--k or add images.')
        return self.num_clusters

    def _write_files(self, data: FolderEmbeddings, clusters: np.ndarray,
                     similarity: np.ndarray, ranks: np.ndarray,
                     neighbours: Tuple[np.ndarray, np.ndarray],
                     pairs: Tuple[np.ndarray, np.ndarray],
                     unreadable: List[Tuple[str, str]]) -> None:
        np.save(osp.join(self.work_dir, 'embeddings.npy'), data.embeddings)
        _write_lines(osp.join(self.work_dir, 'embeddings_paths.txt'),
                     data.paths)
        write_assignments(osp.join(self.work_dir, 'assignments.csv'),
                          data.paths, clusters, similarity, ranks,
                          *neighbours)
        paths = np.asarray(data.paths, dtype=object)
        _write_csv(osp.join(self.work_dir, 'duplicates.csv'),
                   ('path_a', 'path_b', 'similarity'),
                   zip(paths[pairs[0][:, 0]], paths[pairs[0][:, 1]],
                       _decimals(pairs[1])))
        _write_csv(osp.join(self.work_dir, 'unreadable.csv'),
                   ('path', 'reason'), unreadable)

    def _write_cluster_folders(self, paths: Sequence[str],
                               clusters: np.ndarray,
                               ranks: np.ndarray) -> Dict[int, str]:
        """One folder per cluster of links (or copies), most typical
        first: ``clusters/cluster_<id>_n<size>/<rank>_<name>``."""
        root = osp.join(self.work_dir, 'clusters')
        if osp.isdir(root):
            shutil.rmtree(root)
        sizes = np.bincount(clusters)
        names = {int(c): f'cluster_{c:05d}_n{sizes[c]}'
                 for c in np.flatnonzero(sizes)}
        for name in names.values():
            os.makedirs(osp.join(root, name))
        place = shutil.copy2 if self.copy else os.symlink
        for path, cluster, rank in tqdm(
                zip(paths, clusters.tolist(), ranks.tolist()),
                total=len(paths), desc='cluster folders', unit='image',
                leave=False):
            place(osp.abspath(osp.join(self.folder, path)),
                  osp.join(root, names[cluster],
                           f'{rank + 1:06d}_{osp.basename(path)}'))
        return names

    def _summary(self, listing: ImageListing, data: FolderEmbeddings,
                 num_clusters: int, pairs, unreadable) -> dict:
        return dict(
            folder=osp.abspath(self.folder), model=self.model_name,
            feature=self.feature, embedding_dim=int(
                data.embeddings.shape[1]),
            images=len(data.paths), unreadable=len(unreadable),
            other_files=len(listing.other_files), clusters=num_clusters,
            clusters_from=self.clusters_from,
            duplicate_threshold=self.duplicate_threshold,
            duplicate_pairs=int(len(pairs[1])),
            images_per_second=len(data.paths) / max(data.seconds, 1e-9))

    def _draw_figures(self, report_dir: str, data: FolderEmbeddings,
                      clusters: np.ndarray, labels: Optional[Dict[str, str]],
                      summary: dict) -> List[Tuple[str, str]]:
        rows, coords = embedding_map(data.embeddings, self.map_points,
                                     self.seed)
        title = f't-SNE map of {len(rows)} of {len(data.paths)} images'
        plot_embedding_map(coords, clusters[rows],
                           osp.join(report_dir, 'map_clusters.png'),
                           f'{title}, coloured by cluster')
        figures = [('Map, by cluster', 'map_clusters.png')]
        if labels is None:
            return figures
        names, class_ids = label_ids(labels, data.paths)
        labelled = class_ids >= 0
        summary['labelled_images'] = int(labelled.sum())
        summary['metrics'] = clustering_scores(class_ids[labelled],
                                               clusters[labelled])
        shown = labelled[rows]
        plot_embedding_map(coords[shown], class_ids[rows][shown],
                           osp.join(report_dir, 'map_labels.png'),
                           f'{title}, coloured by label', names)
        table = np.bincount(
            class_ids[labelled] * (clusters.max() + 1) + clusters[labelled],
            minlength=len(names) * (clusters.max() + 1)).reshape(
                len(names), -1)
        plot_confusion(table, names, osp.join(report_dir, 'confusion.png'),
                       'Labels against clusters')
        return figures + [('Map, by label', 'map_labels.png'),
                          ('Labels against clusters', 'confusion.png')]

    @staticmethod
    def _summary_lines(summary: dict) -> Dict[str, str]:
        lines = {
            'folder': summary['folder'],
            'model': summary['model'],
            'embedding': f'{summary["feature"]}, '
            f'{summary["embedding_dim"]} dims',
            'images': f'{summary["images"]} embedded',
            'not read': f'{summary["unreadable"]} unreadable (see '
            f'Unreadable files), {summary["other_files"]} without an image '
            'suffix (other_files.txt)',
            'clusters': f'{summary["clusters"]} ('
            + CLUSTER_SOURCE_NAMES[summary['clusters_from']] + ')',
            'near-duplicates': f'{summary["duplicate_pairs"]} pairs at '
            f'similarity >= {summary["duplicate_threshold"]}',
        }
        for key, value in summary.get('metrics', {}).items():
            lines[f'{key.upper()} against the labels'] = (
                f'{value:.4f} ({summary["labelled_images"]} labelled '
                'images)')
        return lines


def write_assignments(path: str, paths: Sequence[str], clusters: np.ndarray,
                      similarity: np.ndarray, ranks: np.ndarray,
                      neighbours: np.ndarray,
                      neighbour_similarity: np.ndarray) -> None:
    """Write ``assignments.csv``: one row per image.

    Columns: path, cluster, similarity (to the centroid), rank (1: most
    typical of its cluster), then neighbour_1, similarity_1, ...,
    neighbour_5, similarity_5 (empty where there are fewer images).

    Args:
        path (str): The CSV file.
        paths (Sequence[str]): The images.
        clusters, similarity, ranks (np.ndarray): Per image.
        neighbours (np.ndarray): ``N x k`` rows of the nearest images.
        neighbour_similarity (np.ndarray): Their similarities.
    """
    names = np.asarray(paths, dtype=object)
    header = ['path', 'cluster', 'similarity', 'rank']
    columns = [names, clusters, _decimals(similarity), ranks + 1]
    for column in range(NUM_NEIGHBOURS):
        header += [f'neighbour_{column + 1}', f'similarity_{column + 1}']
        if column < neighbours.shape[1]:
            columns += [names[neighbours[:, column]],
                        _decimals(neighbour_similarity[:, column])]
        else:
            columns += [[''] * len(names)] * 2
    _write_csv(path, header, zip(*columns))


def _decimals(values: np.ndarray) -> List[str]:
    """Similarities as text with 6 decimals."""
    return [f'{value:.6f}' for value in values.tolist()]


def _write_csv(path: str, header: Sequence[str], rows) -> None:
    with open(path, 'w', newline='') as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def _write_lines(path: str, lines: Sequence[str]) -> None:
    with open(path, 'w') as file:
        file.writelines(f'{line}\n' for line in lines)

