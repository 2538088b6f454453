"""tools/cluster_images.py's steps against the same steps by hand.

The folder: the 60,000 Fashion-MNIST training images written once as PNG
files (``--folder``, default /tmp/mmodc_fashion_mnist_png, in 60
sub-folders). The model: the quickstart ODC config with a checkpoint
(``--checkpoint``; default its initial weights, which cost the same).

mmodc: ``ClusterImages(...).run()`` with K = 60 (the tool's default for
60,000 images); it times its own steps (``summary.json``'s ``seconds``).
By hand, in the same process: a DataLoader over the files with Pillow
decoding (``convert('L')``), the normalisation and the backbone's pooled
last stage in eval mode, L2-normalised; ``faiss.Kmeans`` + index search;
``IndexFlatIP.search`` for 6 neighbours; one ``range_search`` for the
pairs above the threshold. The report, the cluster folders and the map
have no by-hand counterpart and are timed alone. Both use the same batch
size and decoding processes, and run alternately (``--repeats``).

Example::

    python benchmarks/cluster_images.py                      # 60,000 PNGs
    python benchmarks/cluster_images.py --num-images 6000    # quick
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _machine_load import OtherLoad  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
QUICKSTART = osp.join(REPO, 'configs', 'selfsup', 'odc',
                      'odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py')
FASHION_MNIST = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--folder', default='/tmp/mmodc_fashion_mnist_png')
    parser.add_argument('--num-images', type=int, default=60000)
    parser.add_argument('--checkpoint', help='quickstart checkpoint')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--threshold', type=float, default=0.99)
    parser.add_argument('--repeats', type=int, default=1)
    return parser.parse_args()


def write_pngs(folder: str, count: int) -> None:
    """The first ``count`` Fashion-MNIST training images as PNG files."""
    from mmodc.datasets.fashion_mnist import read_idx
    marker = f'{osp.normpath(folder)}.complete_{count}'  # beside it
    if osp.exists(marker):
        return
    images = read_idx(FASHION_MNIST, 'images')[:count]
    for index, image in enumerate(images):
        sub = osp.join(folder, f'{index // 1000:02d}')
        os.makedirs(sub, exist_ok=True)
        Image.fromarray(image).save(osp.join(sub, f'{index:05d}.png'))
    open(marker, 'w').close()


class GreyFiles(Dataset):
    """Files decoded to ``H x W`` uint8 tensors with Pillow."""

    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        with Image.open(self.paths[index]) as image:
            return torch.from_numpy(np.array(image.convert('L')))


@torch.no_grad()
def by_hand(model, folder, args, num_clusters):
    """The steps written directly with torch and faiss; seconds each."""
    import faiss
    seconds = {}
    start = time.perf_counter()
    paths = sorted(osp.join(root, name)
                   for root, _, files in os.walk(folder)
                   for name in files if name.endswith('.png'))
    loader = DataLoader(GreyFiles(paths), args.batch_size,
                        num_workers=args.num_workers)
    mean = model.data_preprocessor.mean
    std = model.data_preprocessor.std
    rows = []
    for batch in loader:
        inputs = (batch.unsqueeze(1).float() - mean) / std
        rows.append(model.backbone(inputs)[-1].mean(dim=(2, 3)))
    data = np.ascontiguousarray(
        F.normalize(torch.cat(rows), dim=1).numpy())
    seconds['embed'] = time.perf_counter() - start
    start = time.perf_counter()
    clustering = faiss.Kmeans(data.shape[1], num_clusters, niter=20, seed=0,
                              max_points_per_centroid=10_000_000)
    clustering.train(data)
    clustering.index.search(data, 1)
    seconds['cluster'] = time.perf_counter() - start
    start = time.perf_counter()
    index = faiss.IndexFlatIP(data.shape[1])
    index.add(data)
    index.search(data, 6)
    seconds['neighbours'] = time.perf_counter() - start
    start = time.perf_counter()
    index.range_search(data, args.threshold)
    seconds['duplicates'] = time.perf_counter() - start
    return seconds, len(paths)


def with_mmodc(model, folder, args, num_clusters):
    """ClusterImages on the folder; its own timings."""
    from mmodc.analysis.cluster_images import ClusterImages
    with tempfile.TemporaryDirectory() as work_dir:
        summary = ClusterImages(
            folder, work_dir, model, num_clusters=num_clusters,
            duplicate_threshold=args.threshold,
            batch_size=args.batch_size,
            num_workers=args.num_workers).run()
    return summary['seconds'], summary['images']


def main():
    args = parse_args()
    from mmodc.apis import init_model
    write_pngs(args.folder, args.num_images)
    model = init_model(QUICKSTART, args.checkpoint)
    num_clusters = max(10, round(args.num_images / 1000))
    runs = {'by hand': [], 'mmodc': []}
    for repeat in range(args.repeats):
        order = [('by hand', by_hand), ('mmodc', with_mmodc)]
        for name, run in order if repeat % 2 == 0 else order[::-1]:
            with OtherLoad() as load:
                seconds, count = run(model, args.folder, args, num_clusters)
            assert count == args.num_images, (name, count)
            runs[name].append(seconds)
            print(f'{name}: {seconds}; other processes: {load.describe()}',
                  flush=True)
    print(f'\n{args.num_images} PNG images, K = {num_clusters}, batch '
          f'{args.batch_size}, {args.num_workers} decoding processes, '
          f'{torch.get_num_threads()} threads (best of {args.repeats})')
    print(f'{"step":<16}{"by hand":>10}{"mmodc":>10}{"ratio":>8}')
    for step in ('embed', 'cluster', 'neighbours', 'duplicates'):
        hand = min(run[step] for run in runs['by hand'])
        ours = min(run[step] for run in runs['mmodc'])
        print(f'{step:<16}{hand:>9.2f}s{ours:>9.2f}s{ours / hand:>7.2f}x')
    hand = min(run['embed'] for run in runs['by hand'])
    ours = min(run['embed'] for run in runs['mmodc'])
    print(f'images/s embedded: by hand {args.num_images / hand:.0f}, '
          f'mmodc {args.num_images / ours:.0f}')
    for step in ('write files', 'cluster folders', 'map', 'report'):
        print(f'{step:<16}{"":>10}'
              f'{min(run[step] for run in runs["mmodc"]):>9.2f}s')


if __name__ == '__main__':
    main()
