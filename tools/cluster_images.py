"""Cluster a folder of images with an ODC / DeepCluster model.

Usage::

    python tools/cluster_images.py FOLDER --work-dir OUT
        (--checkpoint CKPT [--config CONFIG] | --train CONFIG)
        [--k K | --clusters {memory,head}] [--labels CSV]
        [--feature {backbone,neck}]
        [--duplicate-threshold T] [--copy] [--strict]
        [--batch-size B] [--num-workers N] [--map-points N] [--seed S]
        [--calibrate-bn-batches N]
        [--cfg-options KEY=VALUE ...]

(also ``mim run mmodc cluster_images ...``). CKPT is a model-zoo name
(``python -c "import mmodc.apis as a; print(a.list_models(with_weights=
True))"``), a checkpoint file (its saved config is used unless --config)
or a URL of published weights. --train CONFIG first trains CONFIG on
FOLDER (an image-folder config such as configs/selfsup/odc/
odc_resnet18-w16_1xb256-steplr-8e_image-folder.py; its work dir is
OUT/train) and clusters with the trained model.

Every image is embedded (L2-normalised; the pooled last backbone stage by
default), clustered by faiss k-means (K defaults to images / 1000 within
10..10000, as training does; --clusters memory takes the pseudo-labels of
the ODC memory instead, for a checkpoint trained on FOLDER; --clusters head
the class that the model's cluster head predicts, on any folder: the
clusters of the training's last pseudo-labels, for ODC and DeepCluster; both
with the mean embedding of each cluster as its centroid), and OUT receives:

  assignments.csv       path, cluster, similarity to the centroid, rank in
                        the cluster (1: most typical), 5 nearest images
  embeddings.npy        N x d float32; row i is line i of embeddings_paths.txt
  centroids.npy         K x d k-means centroids
  duplicates.csv        pairs with cosine similarity >= --duplicate-threshold
  unreadable.csv        files that could not be read, and why
  other_files.txt       files without an image suffix (not read)
  clusters/             cluster_<id>_n<size>/<rank>_<name>: links (--copy:
                        copies) to the images, most typical first
  report/index.html     the HTML gallery (offline): clusters by size,
                        a page per cluster, outliers, duplicates, the t-SNE
                        map; with --labels also NMI/ARI/ACC/purity and the
                        confusion image
  summary.json          the counts, the metrics and the time of each step

Unreadable files (empty, truncated, not images) are skipped and listed;
--strict stops at the first one instead.
"""
import os.path as osp
import sys

from mmengine.config import Config, DictAction

# tools/ holds what the tools share
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _runner_setup import (  # noqa: E402
    build_runner,
    docstring_parser,
    import_mmodc,
    set_dataloader_defaults,
    usage_error,
)


def parse_args():
    """Parse the command line."""
    parser = docstring_parser(__doc__)
    parser.add_argument('folder', help='the folder of images')
    parser.add_argument('--work-dir', required=True, help='output folder')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        '--checkpoint', help='model-zoo name, checkpoint file or URL')
    source.add_argument(
        '--train', metavar='CONFIG',
        help='train this image-folder config on FOLDER first')
    parser.add_argument(
        '--config', help="the checkpoint's config (default: the one saved "
        'in the checkpoint)')
    parser.add_argument('--k', type=int, help='number of clusters')
    parser.add_argument(
        '--clusters', choices=['kmeans', 'memory', 'head'], default='kmeans',
        help='faiss k-means on the embeddings (default), the pseudo-'
        'labels in the memory of an ODC checkpoint trained on FOLDER, or '
        "the class predicted by the model's cluster head (ODC or "
        'DeepCluster, any folder)')
    parser.add_argument('--labels', help='CSV of path,label to score with')
    parser.add_argument(
        '--feature', choices=['backbone', 'neck'], default='backbone',
        help='pooled last backbone stage (default) or the neck embedding')
    parser.add_argument(
        '--duplicate-threshold', type=float, default=0.99,
        help='cosine similarity of near-duplicates (default 0.99: resized '
        're-encoded copies of Fashion-MNIST images score 0.993-0.999 with '
        'the quickstart model, 0.07%% of other pairs pass)')
    parser.add_argument('--copy', action='store_true',
                        help='copy images into clusters/ instead of links')
    parser.add_argument('--strict', action='store_true',
                        help='stop at the first unreadable file')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-workers', type=int, default=2,
                        help='processes decoding images (default 2)')
    parser.add_argument('--map-points', type=int, default=5000,
                        help='images on the t-SNE map at most')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--calibrate-bn-batches', type=int, default=0, metavar='N',
        help='recompute BatchNorm running statistics over N random batches '
        "of the folder first (default 0: the checkpoint's; mmodc's training "
        'saves calibrated ones, other checkpoints may not have them)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='with --train: overrides of the training config')
    args = parser.parse_args()
    if args.config and not args.checkpoint:
        usage_error('--config goes with --checkpoint (--train names its '
                    'config itself).')
    if args.cfg_options and not args.train:
        usage_error('--cfg-options goes with --train.')
    if args.k is not None and args.clusters != 'kmeans':
        usage_error(f'--clusters {args.clusters} uses its own number of '
                    'clusters; leave out --k.')
    if args.k is not None and args.k < 1:
        usage_error(f'--k {args.k}: give a positive number of clusters.')
    return args


def train_on_folder(config: str, folder: str, work_dir: str,
                    cfg_options=None):
    """Train ``config`` on ``folder`` through the Runner.

    Returns:
        tuple: The resolved config and the last checkpoint's path.
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.setdefault('default_scope', 'mmodc')
    cfg.image_folder = osp.abspath(folder)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    set_dataloader_defaults(cfg)
    runner = build_runner(cfg)
    runner.train()
    with open(osp.join(work_dir, 'last_checkpoint')) as file:
        checkpoint = file.read().strip()
    return runner.cfg, checkpoint


def main() -> None:
    """Train or load the model, then cluster the folder."""
    args = parse_args()
    import_mmodc()
    from mmodc.analysis.cluster_images import (
        ClusterImages,
        load_embedding_model,
    )
    from mmodc.apis import init_model
    if not osp.isdir(args.folder):
        usage_error(f'{args.folder} is not a folder of images.')
    if args.train:
        cfg, checkpoint = train_on_folder(
            args.train, args.folder, osp.join(args.work_dir, 'train'),
            args.cfg_options)
        model = init_model(cfg, checkpoint, args.device)
    else:
        checkpoint = args.checkpoint
        model = load_embedding_model(checkpoint, args.config, args.device)
    summary = ClusterImages(
        args.folder, args.work_dir, model, num_clusters=args.k,
        feature=args.feature, labels=args.labels,
        duplicate_threshold=args.duplicate_threshold, copy=args.copy,
        strict=args.strict, batch_size=args.batch_size,
        num_workers=args.num_workers, map_points=args.map_points,
        seed=args.seed, model_name=checkpoint, clusters_from=args.clusters,
        calibrate_bn_batches=args.calibrate_bn_batches).run()
    print(f'{summary["images"]} images in {summary["clusters"]} clusters, '
          f'{summary["unreadable"]} unreadable, {summary["duplicate_pairs"]} '
          f'near-duplicate pairs; {summary["images_per_second"]:.0f} images/s'
          f' embedded')
    for key, value in summary.get('metrics', {}).items():
        print(f'{key}: {value:.4f}')
    print(f'report: {summary["report"]}')


if __name__ == '__main__':
    main()
