"""Cost of ODCMemory's work in one ODC iteration, against the similarity
matmul alone.

At the reference scale (ImageNet: N = 1,281,167 samples, d = 256, K = 10000
clusters, global batch B = 512) one ODC iteration does, on the memory:

* ``update_samples_memory`` (every iteration; it includes the assignment of
  the batch to the nearest centroid, i.e. one ``B x d x K`` matmul),
* ``update_centroids`` every 10 iterations,
* ``deal_with_small_clusters`` every iteration,
* ``update_class_weights`` every iteration,

in the order of ODCHook (centroids, small clusters, class weights). The
benchmark times that work per iteration and, in the same loop, the single
matmul ``features[B, d] @ centroids.T`` alone, and prints both and their
ratio. The matmul is the floor: the assignment cannot be done without it.

Synthetic data: K cluster centres on the unit sphere, cluster sizes drawn
from a log-normal spread around N / K (mean 128 for ImageNet, almost all
above ``min_cluster``), each sample a noisy unit vector around its centre.
Every iteration draws B indices with replacement (as ODC's sampler does)
and a fresh noisy view of each sample, so labels change as in training.

Peak extra memory: on Linux, the peak resident set size (``VmHWM``) is
reset through ``/proc/self/clear_refs`` after the memory is built (and
glibc's free lists are trimmed), and the peak reached during the timed loop
minus the resident size before it is reported. On CUDA,
``torch.cuda.max_memory_allocated`` is used the same way.

``--with-reference`` also times a re-implementation of mmselfsup's
ODCMemory (argsort and a Python loop over clusters to recompute all
centroids every 10 iterations, ``np.bincount`` of the label bank for the
small clusters and for the class weights every iteration), single
process, in a second loop where both memories take the same batches in
turn, iteration by iteration. It is slow (about a second per centroid
recomputation at ImageNet scale): use few iterations.

The CPU time that other processes took during each timed loop is printed:
on a shared machine, timings taken under load are not worth reporting.

Example::

    python benchmarks/odc_memory.py                     # ImageNet scale
    python benchmarks/odc_memory.py --length 100000 --num-classes 1000
    python benchmarks/odc_memory.py --with-reference --iters 50
"""
import argparse
import ctypes
import json
import os.path as osp
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _machine_load import OtherLoad  # noqa: E402

from mmodc.models.memories.odc_memory import ODCMemory  # noqa: E402

CENTROIDS_INTERVAL = 10
SMALL_CLUSTERS_INTERVAL = 1
REWEIGHT_POW = 0.5


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--length', type=int, default=1281167,
                        help='number of samples N (ImageNet: 1281167)')
    parser.add_argument('--feat-dim', type=int, default=256)
    parser.add_argument('--num-classes', type=int, default=10000)
    parser.add_argument('--batch-size', type=int, default=512,
                        help='global batch size B (8 GPUs x 64)')
    parser.add_argument('--min-cluster', type=int, default=20)
    parser.add_argument('--iters', type=int, default=200,
                        help='timed iterations')
    parser.add_argument('--warmup', type=int, default=20,
                        help='untimed iterations first')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--size-spread', type=float, default=0.5,
                        help='sigma of the log-normal cluster size spread')
    parser.add_argument('--noise', type=float, default=4.5,
                        help='noise norm around the centres (relative to 1)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--timeline-iters', type=int, default=10,
                        help='iterations profiled for the peak of live '
                        'tensors (CPU; 0: skip)')
    parser.add_argument('--shrink', type=int, default=10,
                        help='at the end, time deal_with_small_clusters '
                        'with this many clusters made small')
    parser.add_argument('--with-reference', action='store_true',
                        help="also time mmselfsup's ODCMemory algorithm")
    return parser.parse_args()


# ----------------------------------------------------------------- memory
class PeakMemory:
    """Peak memory above the current level, during a ``with`` block."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.method = None
        self.extra_bytes = None

    def __enter__(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
            self.method = 'torch.cuda.max_memory_allocated'
            return self
        try:
            ctypes.CDLL('libc.so.6').malloc_trim(0)
        except OSError:
            pass
        try:
            with open('/proc/self/clear_refs', 'w') as file:
                file.write('5')
            self.method = 'VmHWM - VmRSS (/proc/self, peak reset)'
        except OSError:
            self.method = 'ru_maxrss delta (peak not reset: lower bound)'
        self.start = _rss_bytes()
        self.start_max = _maxrss_bytes()
        return self

    def __exit__(self, *exc):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
            self.extra_bytes = peak - self.start
        elif self.method.startswith('VmHWM'):
            self.extra_bytes = _status_kb('VmHWM') * 1024 - self.start
        else:
            self.extra_bytes = _maxrss_bytes() - self.start_max
        return False


def _status_kb(field: str) -> int:
    with open('/proc/self/status') as file:
        for line in file:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise KeyError(field)


def _rss_bytes() -> int:
    try:
        return _status_kb('VmRSS') * 1024
    except (OSError, KeyError):
        return _maxrss_bytes()


def _maxrss_bytes() -> int:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ------------------------------------------------------------------- data
class SyntheticData:
    """Clustered unit features and the views drawn at every iteration."""

    def __init__(self, args, device: torch.device) -> None:
        self.args = args
        self.device = device
        gen = torch.Generator().manual_seed(args.seed)
        num, dim, k = args.length, args.feat_dim, args.num_classes
        self.centres = F.normalize(torch.randn(k, dim, generator=gen), dim=1)
        spread = torch.exp(args.size_spread * torch.randn(k, generator=gen))
        self.labels = torch.multinomial(
            spread, num, replacement=True, generator=gen)
        self.gen = gen

    def fill(self, out: torch.Tensor, chunk: int = 1 << 16) -> None:
        """Write the initial features, chunk by chunk (no N x d copy)."""
        for start in range(0, out.shape[0], chunk):
            stop = min(start + chunk, out.shape[0])
            out[start:stop] = self.view(
                torch.arange(start, stop)).to(out.device)

    def view(self, idx: torch.Tensor) -> torch.Tensor:
        noise = F.normalize(
            torch.randn(idx.numel(), self.args.feat_dim, generator=self.gen),
            dim=1)
        return F.normalize(
            self.centres[self.labels[idx]] + self.args.noise * noise, dim=1)

    def batches(self, count: int, seed: int):
        """``count`` batches ``(idx, features)``, the same for a seed."""
        self.gen.manual_seed(seed)
        for _ in range(count):
            idx = torch.randint(
                self.args.length, (self.args.batch_size, ),
                generator=self.gen)
            feats = self.view(idx)
            yield idx.to(self.device), feats.to(self.device)


# -------------------------------------------------------------- reference
class ReferenceMemory:
    """mmselfsup's ODCMemory algorithm, single process, on one device.

    Ported from ``mmselfsup/models/memories/odc_memory.py`` (1.x) and
    ``engine/hooks/odc_hook.py``, the distributed collectives dropped (they
    are identities in one process); the 2-means of the largest cluster uses
    scikit-learn as there (``n_init`` pinned to 10).
    """

    def __init__(self, feature_bank, label_bank, centroids, num_classes,
                 min_cluster, momentum=0.5):
        self.feature_bank = feature_bank.cpu().clone()
        self.label_bank = label_bank.cpu().clone()
        self.centroids = centroids.clone()
        self.num_classes = num_classes
        self.min_cluster = min_cluster
        self.momentum = momentum
        self.device = centroids.device
        from sklearn.cluster import KMeans
        self.kmeans = KMeans(
            n_clusters=2, random_state=0, max_iter=20, n_init=10)

    def _compute_centroids(self):
        label_bank_np = self.label_bank.numpy()
        argl = np.argsort(label_bank_np)
        sortl = label_bank_np[argl]
        diff_pos = np.where(sortl[1:] - sortl[:-1] != 0)[0] + 1
        start = np.insert(diff_pos, 0, 0)
        end = np.insert(diff_pos, len(diff_pos), len(label_bank_np))
        class_start = sortl[start]
        centroids = self.centroids.cpu().clone()
        for i, st, ed in zip(class_start, start, end):
            centroids[i, :] = self.feature_bank[argl[st:ed], :].mean(dim=0)
        return centroids

    def _compute_centroids_idx(self, cinds):
        centroids = torch.zeros((len(cinds), self.feature_bank.shape[1]))
        for i, c in enumerate(cinds):
            idx = np.where(self.label_bank.numpy() == c)[0]
            centroids[i, :] = self.feature_bank[idx, :].mean(dim=0)
        return centroids

    def update_samples_memory(self, idx, feature):
        feature_norm = feature / (feature.norm(dim=1).view(-1, 1) + 1e-10)
        idx = idx.cpu()
        feature_old = self.feature_bank[idx, ...].to(self.device)
        feature_new = ((1 - self.momentum) * feature_old +
                       self.momentum * feature_norm)
        feature_norm = feature_new / (
            feature_new.norm(dim=1).view(-1, 1) + 1e-10)
        self.feature_bank[idx, ...] = feature_norm.cpu()
        similarity_to_centroids = torch.mm(self.centroids,
                                           feature_norm.permute(1, 0))
        newlabel = similarity_to_centroids.argmax(dim=0)
        newlabel_cpu = newlabel.cpu()
        change_ratio = (newlabel_cpu != self.label_bank[idx]).sum().float(
        ).to(self.device) / float(newlabel_cpu.shape[0])
        self.label_bank[idx] = newlabel_cpu.clone()
        return change_ratio

    def deal_with_small_clusters(self):
        histogram = np.bincount(
            self.label_bank.numpy(), minlength=self.num_classes)
        small_clusters = np.where(histogram < self.min_cluster)[0].tolist()
        if len(small_clusters) == 0:
            return
        for s in small_clusters:
            idx = np.where(self.label_bank.numpy() == s)[0]
            if len(idx) > 0:
                inclusion = torch.from_numpy(
                    np.setdiff1d(
                        np.arange(self.num_classes),
                        np.array(small_clusters),
                        assume_unique=True)).to(self.device)
                target_idx = torch.mm(
                    self.centroids[inclusion, :],
                    self.feature_bank[idx, :].to(self.device).permute(
                        1, 0)).argmax(dim=0)
                target = inclusion[target_idx]
                self.label_bank[idx] = torch.from_numpy(
                    target.cpu().numpy())
        self._redirect_empty_clusters(small_clusters)

    def update_centroids_memory(self, cinds=None):
        if cinds is None:
            self.centroids.copy_(self._compute_centroids())
        else:
            center = self._compute_centroids_idx(cinds)
            self.centroids[torch.LongTensor(cinds).to(
                self.device), :] = center.to(self.device)

    def _partition_max_cluster(self, max_cluster):
        max_cluster_idx = np.where(self.label_bank == max_cluster)[0]
        max_cluster_features = self.feature_bank[max_cluster_idx, :]
        if np.any(np.isnan(max_cluster_features.numpy())):
            raise Exception('Has nan in features.')
        kmeans_ret = self.kmeans.fit(max_cluster_features)
        sub_cluster1_idx = max_cluster_idx[kmeans_ret.labels_ == 0]
        sub_cluster2_idx = max_cluster_idx[kmeans_ret.labels_ == 1]
        if not (len(sub_cluster1_idx) > 0 and len(sub_cluster2_idx) > 0):
            sub_cluster1_idx = np.random.choice(
                max_cluster_idx, len(max_cluster_idx) // 2, replace=False)
            sub_cluster2_idx = np.setdiff1d(
                max_cluster_idx, sub_cluster1_idx, assume_unique=True)
        return sub_cluster1_idx, sub_cluster2_idx

    def _redirect_empty_clusters(self, empty_clusters):
        for e in empty_clusters:
            assert (self.label_bank != e).all().item()
            max_cluster = np.bincount(
                self.label_bank, minlength=self.num_classes).argmax().item()
            _, sub_cluster2_idx = self._partition_max_cluster(max_cluster)
            self.label_bank[sub_cluster2_idx] = e
            self.update_centroids_memory([max_cluster, e])

    def set_reweight(self, reweight_pow=0.5):
        """ODCHook.set_reweight (the weights go to the loss there)."""
        hist = np.bincount(
            self.label_bank.numpy(),
            minlength=self.num_classes).astype(np.float32)
        inv_hist = (1. / (hist + 1e-10))**reweight_pow
        weight = inv_hist / inv_hist.sum()
        return torch.from_numpy(weight).to(self.device)


# ------------------------------------------------------------------- loop
def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def run(memories, batches, num_iters, device):
    """Time the memory work of ``num_iters`` ODC iterations.

    ``memories`` is a list of ``(name, memory, is_reference)``: each
    iteration runs every memory in turn on the same batch (interleaved, so
    that a disturbance of the machine hits them alike), then the matmul
    alone. Returns, by name, per-iteration times (seconds) by phase, the
    change ratios and the numbers of dissolved clusters.
    """
    phases = ('samples', 'centroids', 'small', 'weights', 'memory', 'matmul')
    results = {
        name: dict(times={phase: [] for phase in phases}, changes=[],
                   dissolved=[])
        for name, _, _ in memories
    }
    for it, (idx, feats) in zip(range(num_iters), batches):
        for name, memory, is_reference in memories:
            _sync(device)
            t0 = time.perf_counter()
            change = memory.update_samples_memory(idx, feats)
            _sync(device)
            t1 = time.perf_counter()
            if (it + 1) % CENTROIDS_INTERVAL == 0:
                if is_reference:
                    memory.update_centroids_memory()
                else:
                    memory.update_centroids()
            _sync(device)
            t2 = time.perf_counter()
            num_small = 0
            if (it + 1) % SMALL_CLUSTERS_INTERVAL == 0:
                num_small = memory.deal_with_small_clusters()
            _sync(device)
            t3 = time.perf_counter()
            if is_reference:
                memory.set_reweight(REWEIGHT_POW)
            else:
                memory.update_class_weights(REWEIGHT_POW)
            _sync(device)
            t4 = time.perf_counter()
            result = results[name]
            for phase, value in zip(phases, (t1 - t0, t2 - t1, t3 - t2,
                                             t4 - t3, t4 - t0)):
                result['times'][phase].append(value)
            result['changes'].append(float(change))
            result['dissolved'].append(num_small or 0)
        # the floor: the similarity matmul of the batch alone
        feats_n = F.normalize(feats, dim=1)
        centroids = memories[0][1].centroids
        _sync(device)
        t5 = time.perf_counter()
        feats_n @ centroids.T
        _sync(device)
        t6 = time.perf_counter()
        for result in results.values():
            result['times']['matmul'].append(t6 - t5)
    return results


def tensor_peak(memories, batches, num_iters, device):
    """Peak of the live tensors during ``num_iters`` iterations above the
    level at their start, from PyTorch's memory timeline (allocator
    independent)."""
    from torch.profiler import profile
    with profile(profile_memory=True, record_shapes=True,
                 with_stack=True) as prof:
        run(memories, batches, num_iters, device)
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'timeline.json')
        prof.export_memory_timeline(path, device=str(device))
        with open(path) as file:
            _, sizes = json.load(file)
    totals = np.asarray(sizes).sum(axis=1)
    return int(totals.max() - totals[0])


def shrink_clusters(memory, num_clusters, keep, seed, is_reference=False):
    """Leave ``keep`` samples in ``num_clusters`` random clusters (the rest
    join the next cluster), so that the next ``deal_with_small_clusters``
    has work to do."""
    gen = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(memory.num_classes, generator=gen)[:num_clusters]
    for cluster in chosen.tolist():
        members = (memory.label_bank == cluster).nonzero().squeeze(1)[keep:]
        target = torch.full_like(members, (cluster + 1) % memory.num_classes)
        if is_reference:
            memory.label_bank[members] = target
        else:
            memory._relabel(members, memory.feature_bank[members], target)


def time_small_clusters(memory, args, device, is_reference=False):
    shrink_clusters(memory, args.shrink, args.min_cluster // 2, args.seed,
                    is_reference)
    _sync(device)
    t = time.perf_counter()
    memory.deal_with_small_clusters()
    _sync(device)
    return 1e3 * (time.perf_counter() - t)


def _ms(values):
    return 1e3 * sum(values) / max(len(values), 1)


def _median_ms(values):
    return 1e3 * float(np.median(values)) if values else float('nan')


def report(name, result, num_iters):
    times, changes = result['times'], result['changes']
    dissolved = result['dissolved']
    mem, mm = _ms(times['memory']), _ms(times['matmul'])
    print(f'[{name}] memory work per iteration: mean {mem:.2f} ms, '
          f'median {_median_ms(times["memory"]):.2f} ms')
    print(f'[{name}] matmul B x d @ d x K alone:  mean {mm:.2f} ms, '
          f'median {_median_ms(times["matmul"]):.2f} ms')
    print(f'[{name}] ratio memory / matmul: mean {mem / mm:.3f}, median '
          f'{_median_ms(times["memory"]) / _median_ms(times["matmul"]):.3f}')
    fired = [t for t, n in zip(times['small'], dissolved) if n]
    print(f'[{name}] breakdown (mean ms per iteration): '
          f'update_samples_memory {_ms(times["samples"]):.2f}, '
          f'update_centroids {_ms(times["centroids"]):.2f} '
          f'(per call {_ms(times["centroids"]) * CENTROIDS_INTERVAL:.2f}), '
          f'deal_with_small_clusters {_ms(times["small"]):.2f}, '
          f'class weights {_ms(times["weights"]):.2f}')
    print(f'[{name}] small clusters dissolved in {len(fired)} of '
          f'{num_iters} iterations ({sum(dissolved)} clusters'
          + (f', {_ms(fired):.2f} ms per such call)' if fired else ')')
          + f'; mean label change ratio {np.mean(changes):.3f}')


def main():
    args = parse_args()
    device = torch.device(args.device)
    print(f'torch {torch.__version__}, threads {torch.get_num_threads()}, '
          f'device {device}'
          + (f' ({torch.cuda.get_device_name(device)})'
             if device.type == 'cuda' else ''))
    print(f'N={args.length} d={args.feat_dim} K={args.num_classes} '
          f'B={args.batch_size} min_cluster={args.min_cluster} '
          f'iters={args.iters} (+{args.warmup} warm-up)')

    t = time.perf_counter()
    data = SyntheticData(args, device)
    memory = ODCMemory(args.length, args.feat_dim,
                       num_classes=args.num_classes,
                       min_cluster=args.min_cluster).to(device)
    data.fill(memory.feature_bank)
    memory.init_memory(memory.feature_bank, data.labels)
    sizes = memory.cluster_counts.cpu()
    print(f'setup {time.perf_counter() - t:.1f} s; initial cluster sizes: '
          f'mean {sizes.float().mean():.1f}, min {int(sizes.min())}, '
          f'median {int(sizes.median())}, max {int(sizes.max())}, '
          f'{int((sizes < args.min_cluster).sum())} below min_cluster')
    reference = None
    if args.with_reference:
        reference = ReferenceMemory(memory.feature_bank, memory.label_bank,
                                    memory.centroids, args.num_classes,
                                    args.min_cluster)
    # the clusters below min_cluster after the initial clustering are
    # dissolved by the first call: timed on its own
    for name, mem in (('mmodc', memory), ('mmselfsup', reference)):
        if mem is None:
            continue
        _sync(device)
        t = time.perf_counter()
        num_small = mem.deal_with_small_clusters()
        _sync(device)
        print(f'[{name}] first deal_with_small_clusters after init: '
              f'{1e3 * (time.perf_counter() - t):.1f} ms'
              + ('' if num_small is None else
                 f' ({num_small} clusters dissolved)'))
    bank_bytes = memory.feature_bank.numel() * 4
    batches = data.batches(
        args.warmup + args.iters + args.timeline_iters, args.seed + 1)
    mmodc = [('mmodc', memory, False)]
    run(mmodc, batches, args.warmup, device)
    with PeakMemory(device) as peak, OtherLoad() as load:
        results = run(mmodc, batches, args.iters, device)
    report('mmodc', results['mmodc'], args.iters)
    print(f'[mmodc] other processes during the timed loop: '
          f'{load.describe()}')
    print(f'[mmodc] peak extra memory during the timed loop: '
          f'{peak.extra_bytes / 2**20:.1f} MiB = '
          f'{100 * peak.extra_bytes / bank_bytes:.2f}% of the feature bank '
          f'({bank_bytes / 2**20:.0f} MiB); method: {peak.method}')
    if args.timeline_iters and device.type == 'cpu':
        try:
            extra = tensor_peak(mmodc, batches, args.timeline_iters, device)
        except Exception as error:  # a private profiler API: report only
            print(f'[mmodc] live tensor peak unavailable: {error!r}')
        else:
            print(f'[mmodc] peak extra live tensors over '
                  f'{args.timeline_iters} iterations: '
                  f'{extra / 2**20:.1f} MiB = '
                  f'{100 * extra / bank_bytes:.2f}% of the feature bank; '
                  'method: torch.profiler memory timeline')
    if reference is not None:
        # both in one loop, iteration by iteration, on the same batches
        both = mmodc + [('mmselfsup', reference, True)]
        batches = data.batches(args.warmup + args.iters, args.seed + 2)
        run(both, batches, args.warmup, device)
        with OtherLoad() as load:
            results = run(both, batches, args.iters, device)
        print('--- mmodc and mmselfsup interleaved')
        for name in ('mmodc', 'mmselfsup'):
            report(name, results[name], args.iters)
        print(f'other processes during the interleaved loop: '
              f'{load.describe()}')
        ratio = (_ms(results['mmselfsup']['times']['memory']) /
                 _ms(results['mmodc']['times']['memory']))
        print(f'mmselfsup / mmodc memory work: {ratio:.2f}x')
    if args.shrink:
        for name, mem, is_reference in ([('mmodc', memory, False)] + (
                [] if reference is None else
                [('mmselfsup', reference, True)])):
            elapsed = time_small_clusters(mem, args, device, is_reference)
            print(f'[{name}] deal_with_small_clusters with {args.shrink} '
                  f'clusters shrunk to {args.min_cluster // 2} samples: '
                  f'{elapsed:.1f} ms')


if __name__ == '__main__':
    main()
