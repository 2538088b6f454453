"""mmodc's k-means call against the same faiss call made directly.

``mmodc.clustering.kmeans(features, k, seed, num_iters=20)`` wraps
``faiss.Kmeans``: it checks its input (k not above N, finite features),
hands the tensor's memory to faiss, trains, then assigns every sample to
its nearest centroid with the trained index. The baseline is what a faiss
user writes::

    clustering = faiss.Kmeans(d, k, niter=20, seed=seed,
                              max_points_per_centroid=10_000_000)
    clustering.train(data)
    _, assignment = clustering.index.search(data, 1)

Both run on the SAME data in ONE process, alternately, in the order
direct, mmodc, mmodc, direct, direct, mmodc, ... (``--repeats`` runs of
each; the order flips every pair, so that neither always runs first and a
drift or disturbance of the machine hits them alike), after an untimed
warm-up of both on a small problem. The minimum and median wall time of
each and the ratio mmodc / direct are printed (target: at most 1.05). The
assignments and centroids of every run are compared with those of the
first direct run: with the same seed they are the same faiss computation
and must be identical.

Synthetic data: a Gaussian mixture (``k`` centres on the unit sphere, each
sample a noisy copy of a random centre), L2-normalised, from a fixed seed.
The default size is N = 200,000, d = 256, k = 10,000 (about 2.5 minutes per
run on 2 CPU cores); ``--imagenet`` is the reference DeepCluster/ODC scale,
N = 1,281,167 (6.4 times the work: an estimated 16 minutes per run on 2
cores, not measured; 1.3 GB for the features plus faiss' work space).

The CPU time that other processes took during each run is printed: on a
shared machine, timings taken under load are not worth reporting.

Example::

    python benchmarks/kmeans.py                        # N=200k, k=10k
    python benchmarks/kmeans.py --num-samples 20000 --k 1000   # small
    python benchmarks/kmeans.py --imagenet --repeats 1         # slow
"""
import argparse
import os
import os.path as osp
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _machine_load import OtherLoad  # noqa: E402

from mmodc.clustering import kmeans  # noqa: E402

IMAGENET_SAMPLES = 1281167


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-samples', type=int, default=200000,
                        help='number of samples N')
    parser.add_argument('--dim', type=int, default=256,
                        help='feature dimension d')
    parser.add_argument('--k', type=int, default=10000,
                        help='number of clusters')
    parser.add_argument('--imagenet', action='store_true',
                        help=f'ImageNet size: N={IMAGENET_SAMPLES}, d=256, '
                        'k=10000 (slow, several GB of memory)')
    parser.add_argument('--repeats', type=int, default=2,
                        help='timed runs of each variant, alternated')
    parser.add_argument('--iters', type=int, default=20,
                        help='Lloyd iterations (num_iters / niter)')
    parser.add_argument('--noise', type=float, default=1.0,
                        help='noise norm around the centres (relative to 1)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the data')
    parser.add_argument('--kmeans-seed', type=int, default=0,
                        help='seed of the k-means initialisation (both)')
    args = parser.parse_args()
    if args.imagenet:
        args.num_samples, args.dim, args.k = IMAGENET_SAMPLES, 256, 10000
    return args


# ------------------------------------------------------------------- data
def make_data(args, chunk: int = 1 << 16) -> torch.Tensor:
    """``N x d`` unit rows of a Gaussian mixture, the same for a seed."""
    gen = torch.Generator().manual_seed(args.seed)
    centres = F.normalize(torch.randn(args.k, args.dim, generator=gen), dim=1)
    data = torch.empty(args.num_samples, args.dim)
    for start in range(0, args.num_samples, chunk):
        stop = min(start + chunk, args.num_samples)
        which = torch.randint(args.k, (stop - start, ), generator=gen)
        noise = F.normalize(
            torch.randn(stop - start, args.dim, generator=gen), dim=1)
        data[start:stop] = F.normalize(
            centres[which] + args.noise * noise, dim=1)
    return data


# --------------------------------------------------------------- variants
def run_direct(data: np.ndarray, args):
    """The plain faiss call; returns labels, centroids and phase times."""
    import faiss
    t0 = time.perf_counter()
    clustering = faiss.Kmeans(
        data.shape[1],
        args.k,
        niter=args.iters,
        seed=args.kmeans_seed,
        max_points_per_centroid=10_000_000)
    clustering.train(data)
    t1 = time.perf_counter()
    _, assignment = clustering.index.search(data, 1)
    t2 = time.perf_counter()
    return (assignment[:, 0], clustering.centroids,
            dict(train=t1 - t0, search=t2 - t1))


def run_mmodc(features: torch.Tensor, args):
    """mmodc's clustering call on the tensor."""
    labels, centroids = kmeans(
        features, args.k, seed=args.kmeans_seed, num_iters=args.iters)
    return labels.numpy(), centroids.numpy(), {}


def main():
    args = parse_args()
    import faiss
    print(f'torch {torch.__version__} (threads {torch.get_num_threads()}), '
          f'faiss {faiss.__version__} (OpenMP threads '
          f'{faiss.omp_get_max_threads()}), {os.cpu_count()} CPUs')
    print(f'N={args.num_samples} d={args.dim} k={args.k} '
          f'iters={args.iters} repeats={args.repeats} '
          f'k-means seed={args.kmeans_seed}')
    t = time.perf_counter()
    features = make_data(args)
    data = features.numpy()  # the same memory, as a faiss user holds it
    print(f'data: {features.numel() * 4 / 2**20:.0f} MiB, made in '
          f'{time.perf_counter() - t:.1f} s')

    # untimed warm-up of both paths (BLAS and OpenMP start-up)
    small = argparse.Namespace(**{**vars(args), 'k': 16, 'iters': 2})
    run_direct(data[:4096], small)
    run_mmodc(features[:4096], small)

    # what mmodc does besides the faiss call: the checks on the input
    t = time.perf_counter()
    finite = bool(torch.isfinite(features).all())
    check_s = time.perf_counter() - t
    print(f'mmodc input check (torch.isfinite(...).all(), {finite}): '
          f'{check_s:.3f} s')

    variants = (('direct', lambda: run_direct(data, args)),
                ('mmodc', lambda: run_mmodc(features, args)))
    times = {name: [] for name, _ in variants}
    reference = None
    identical = True
    for rep in range(args.repeats):
        for name, call in variants[::1 if rep % 2 == 0 else -1]:
            with OtherLoad() as load:
                t = time.perf_counter()
                labels, centroids, phases = call()
                elapsed = time.perf_counter() - t
            times[name].append(elapsed)
            if reference is None:
                reference = labels, centroids
            same_labels = int((labels == reference[0]).sum())
            same = (same_labels == len(labels)
                    and np.array_equal(centroids, reference[1]))
            identical &= same
            detail = ', '.join(f'{key} {value:.2f} s'
                               for key, value in phases.items())
            print(f'[{rep + 1}/{args.repeats}] {name:6s} {elapsed:8.2f} s'
                  + (f' ({detail})' if detail else '')
                  + f'; labels equal to the first direct run: '
                  f'{same_labels}/{len(labels)}, centroids '
                  + ('equal' if np.array_equal(centroids, reference[1])
                     else 'DIFFERENT')
                  + f'; other processes: {load.describe()}', flush=True)
    direct, mmodc = np.array(times['direct']), np.array(times['mmodc'])
    print(f'direct faiss: min {direct.min():.2f} s, median '
          f'{np.median(direct):.2f} s')
    print(f'mmodc kmeans: min {mmodc.min():.2f} s, median '
          f'{np.median(mmodc):.2f} s')
    print(f'ratio mmodc / direct: min {mmodc.min() / direct.min():.3f}, '
          f'median {np.median(mmodc) / np.median(direct):.3f} '
          '(target <= 1.05)')
    print('identical assignment and centroids in every run: '
          + ('yes' if identical else 'NO'))


if __name__ == '__main__':
    main()
