"""ODC's memory across ranks: ShardedODCMemory against the replicated
ODCMemory, and a half-precision feature bank against float32.

Measured in one run (``torch.multiprocessing`` with gloo on this machine):

1. **Per-rank memory** of both memories at ``--length`` samples (default
   ImageNet-1k: N = 1,281,167, d = 256, K = 10,000) for each world size of
   ``--worlds`` (default 2 and 4): the bytes of each rank's buffers.
2. **Bytes per iteration**: every ``torch.distributed`` collective is
   counted while both memories do ODC's per-iteration work on the same
   batches (``update_samples_memory``, centroids every 10 iterations,
   small clusters and class weights every iteration, as ODCHook): the
   bytes each rank receives (``all_gather``: the whole gathered tensor;
   ``all_reduce`` and ``broadcast``: the tensor), split into what grows
   with the global batch and the rest.
3. **Per-iteration time** of both memories at that scale, alternated
   iteration by iteration (meaningful for the smallest world size only:
   this machine has 2 cores).
4. **Beyond this machine**: per-rank memory and bytes per iteration for
   N = 1.28M, 14.2M and 100M at world sizes 8, 64 and 512 (64 images per
   rank), computed from the measured bytes per bank row, the measured
   replicated bytes, and the measured bytes per batch row and per
   iteration of the largest measured world size.
5. **Half precision** (one process): the same stream of batches into a
   float32, a float16 and a bfloat16 feature bank (``--half-length``
   samples, ``--half-epochs`` epochs of a 512-sample batch); the fraction
   of labels equal to float32's, the NMI between them, each memory's NMI
   with the synthetic classes, and the time per iteration.

Synthetic data: K centres on the unit sphere, sample ``i`` of class
``i``'s hash (uniform sizes, about 128 per cluster at ImageNet scale), each
batch a fresh noisy view of its samples' centres, so labels change as in
training.

Example::

    python benchmarks/memory_scaling.py                   # about 2-3 min
    python benchmarks/memory_scaling.py --worlds 2 --iters 20
"""
import argparse
import json
import os
import socket
import sys
import time
from collections import defaultdict
from typing import Dict, List

import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from mmodc.evaluation import normalized_mutual_info
from mmodc.models import ODCMemory, ShardedODCMemory

#: Images per rank of the reference (8 x 64).
BATCH_PER_RANK = 64
#: Dataset sizes and world sizes of the extrapolated table.
TARGET_LENGTHS = {'ImageNet-1k': 1_281_167, 'ImageNet-21k': 14_197_122,
                  '100M images': 100_000_000}
TARGET_WORLDS = (8, 64, 512)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--length', type=int, default=1_281_167)
    parser.add_argument('--feat-dim', type=int, default=256)
    parser.add_argument('--num-classes', type=int, default=10_000)
    parser.add_argument('--worlds', type=int, nargs='+', default=[2, 4])
    parser.add_argument('--iters', type=int, default=30,
                        help='timed iterations (a multiple of 10: the '
                        'centroids are updated every 10)')
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--half-length', type=int, default=200_000)
    parser.add_argument('--half-classes', type=int, default=1_000)
    parser.add_argument('--half-epochs', type=float, default=2.)
    parser.add_argument('--noise', type=float, default=5.,
                        help='noise of each view, relative to the unit '
                        'centres (sets how many labels change)')
    parser.add_argument('--out', help='write the results as JSON')
    return parser.parse_args()


# ------------------------------------------------------------- the data
def synthetic(length: int, dim: int, num_classes: int, noise: float):
    """Centres, the class of every sample, and a batch maker."""
    centres = F.normalize(
        torch.randn(num_classes, dim,
                    generator=torch.Generator().manual_seed(0)), dim=1)
    classes = torch.randint(num_classes, (length, ),
                            generator=torch.Generator().manual_seed(1))

    def views(idx: torch.Tensor, seed: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        return centres[classes[idx]] + noise / dim**0.5 * torch.randn(
            idx.shape[0], dim, generator=generator)

    return centres, classes, views


def fill(memory: ODCMemory, classes: torch.Tensor, views) -> None:
    """The memory's rows: a first view of each of its samples (the same
    whatever rows the memory holds), labelled by class."""
    idx = memory.local_indices()
    rank, world = (memory.rank, memory.world_size) if memory.is_sharded \
        else (0, 1)
    features = torch.cat([
        views(chunk, seed=int(chunk[0]) + 7)[chunk % world == rank]
        for chunk in torch.arange(memory.length).split(1 << 16)])
    if memory.is_sharded:
        memory.init_memory_local(features, classes[idx])
    else:
        memory.init_memory(features, classes[idx])


def iteration(memory: ODCMemory, step: int, idx: torch.Tensor,
              features: torch.Tensor) -> torch.Tensor:
    """ODC's memory work of one iteration: the batch's labels for the loss,
    the update, then ODCHook's work in its order."""
    memory.labels_of(idx)
    changed = memory.update_samples_memory(idx, features)
    if (step + 1) % 10 == 0:
        memory.update_centroids()
    memory.deal_with_small_clusters()
    memory.update_class_weights(0.5)
    return changed


def buffer_bytes(memory: ODCMemory) -> Dict[str, int]:
    """Bytes of the per-sample banks and of the replicated rest."""
    per_sample = memory.feature_bank.nbytes + memory.label_bank.nbytes
    total = sum(buffer.nbytes for buffer in memory.buffers())
    return dict(per_sample_banks=per_sample, replicated=total - per_sample,
                rows=memory.feature_bank.shape[0])


# ---------------------------------------------- counting the collectives
class CollectiveCounter:
    """Bytes each rank receives from ``torch.distributed`` collectives."""

    def __init__(self) -> None:
        self.bytes: Dict[str, int] = defaultdict(int)
        self.active = False
        self._originals = {}

    def __enter__(self):
        for name, count in (('all_gather', self._gathered),
                            ('all_reduce', self._tensor),
                            ('broadcast', self._tensor)):
            original = getattr(torch_dist, name)
            self._originals[name] = original
            setattr(torch_dist, name, self._wrap(name, original, count))
        return self

    def __exit__(self, *exc) -> None:
        for name, original in self._originals.items():
            setattr(torch_dist, name, original)

    def _wrap(self, name, original, count):
        def counted(*args, **kwargs):
            if self.active:
                self.bytes[name] += count(*args)
            return original(*args, **kwargs)
        return counted

    @staticmethod
    def _gathered(outputs: List[torch.Tensor], *args) -> int:
        return sum(tensor.nbytes for tensor in outputs)

    @staticmethod
    def _tensor(tensor: torch.Tensor, *args) -> int:
        return tensor.nbytes


# ------------------------------------------------- the distributed part
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def measure_ranks(rank: int, world: int, port: int, args, queue) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch_dist.init_process_group('gloo', rank=rank, world_size=world)
    torch.set_num_threads(max(1, 2 // world))
    try:
        result = run_rank(rank, world, args)
        if rank == 0:
            queue.put(result)
    finally:
        torch_dist.destroy_process_group()


def run_rank(rank: int, world: int, args) -> dict:
    """Both memories on this rank, the same batches, timed and counted."""
    _, classes, views = synthetic(args.length, args.feat_dim,
                                  args.num_classes, args.noise)
    sizes = dict(length=args.length, feat_dim=args.feat_dim,
                 num_classes=args.num_classes, min_cluster=20)
    memories = {'replicated': ODCMemory(**sizes),
                'sharded': ShardedODCMemory(**sizes)}
    result = dict(world=world)
    for name, memory in memories.items():
        fill(memory, classes, views)
        result[name] = dict(memory=buffer_bytes(memory))
    seconds, counted = defaultdict(float), {}
    with CollectiveCounter() as counter:
        for step in range(args.warmup + args.iters):
            idx = torch.randint(args.length, (BATCH_PER_RANK, ),
                                generator=torch.Generator().manual_seed(
                                    1000 * step + rank))
            features = views(idx, seed=10**6 + 1000 * step + rank)
            for name, memory in memories.items():
                timed = step >= args.warmup
                counter.active = timed
                counter.bytes.clear()
                torch_dist.barrier()
                start = time.perf_counter()
                iteration(memory, step, idx, features)
                if timed:
                    seconds[name] += time.perf_counter() - start
                    for kind, value in counter.bytes.items():
                        counted.setdefault(name, defaultdict(int))[kind] += \
                            value
                counter.active = False
    for name in memories:
        result[name]['ms_per_iter'] = 1000 * seconds[name] / args.iters
        result[name]['bytes_per_iter'] = {
            kind: value / args.iters
            for kind, value in counted.get(name, {}).items()}
    return result


def measure_world(world: int, args) -> dict:
    context = mp.get_context('spawn')
    queue = context.SimpleQueue()
    mp.start_processes(measure_ranks,
                       args=(world, free_port(), args, queue),
                       nprocs=world, join=True, start_method='spawn')
    return queue.get()


# ---------------------------------------------------- the extrapolation
def extrapolate(measured: dict, args) -> List[dict]:
    """Per-rank memory and bytes per iteration beyond this machine, from
    the measured per-row and per-iteration costs."""
    rows = []
    largest = measured[-1]
    world = largest['world']
    global_batch = BATCH_PER_RANK * world
    for name in ('replicated', 'sharded'):
        memory = largest[name]['memory']
        row_bytes = memory['per_sample_banks'] / memory['rows']
        replicated = memory['replicated']
        received = dict(largest[name]['bytes_per_iter'])
        # the centroid broadcasts (K x d every 10 iterations) do not grow
        # with the batch; the gathers and reductions are per batch row
        fixed = received.pop('broadcast', 0.)
        per_batch_row = sum(received.values()) / global_batch
        for data, length in TARGET_LENGTHS.items():
            for target_world in TARGET_WORLDS:
                held = length if name == 'replicated' else -(-length //
                                                             target_world)
                rows.append(dict(
                    memory=name, data=data, length=length,
                    world=target_world,
                    gib_per_rank=(held * row_bytes + replicated) / 2**30,
                    mib_per_iter=(fixed + per_batch_row * BATCH_PER_RANK *
                                  target_world) / 2**20))
    return rows


# ------------------------------------------------------- half precision
def half_precision(args) -> List[dict]:
    """The same batches into float32, float16 and bfloat16 banks."""
    torch.set_num_threads(2)
    _, classes, views = synthetic(args.half_length, args.feat_dim,
                                  args.half_classes, args.noise)
    memories = {}
    for dtype in ('float32', 'float16', 'bfloat16'):
        memory = ODCMemory(args.half_length, args.feat_dim,
                           num_classes=args.half_classes, min_cluster=20,
                           feature_dtype=dtype)
        fill(memory, classes, views)
        memories[dtype] = memory
    global_batch = 8 * BATCH_PER_RANK
    steps = int(args.half_epochs * args.half_length / global_batch)
    seconds, changed = defaultdict(float), defaultdict(float)
    for step in range(steps):
        idx = torch.randint(args.half_length, (global_batch, ),
                            generator=torch.Generator().manual_seed(step))
        features = views(idx, seed=10**6 + step)
        for dtype, memory in memories.items():
            start = time.perf_counter()
            changed[dtype] += float(iteration(memory, step, idx, features))
            seconds[dtype] += time.perf_counter() - start
    reference = memories['float32'].label_bank.numpy()
    return [dict(
        dtype=dtype, steps=steps,
        bank_mib=memory.feature_bank.nbytes / 2**20,
        equal_labels=float((memory.label_bank.numpy() == reference).mean()),
        nmi_with_float32=normalized_mutual_info(
            memory.label_bank.numpy(), reference),
        nmi_with_classes=normalized_mutual_info(memory.label_bank.numpy(),
                                                classes.numpy()),
        label_change_ratio=changed[dtype] / steps,
        ms_per_iter=1000 * seconds[dtype] / steps)
        for dtype, memory in memories.items()]


# ---------------------------------------------------------------- report
def report(measured: List[dict], table: List[dict],
           half: List[dict]) -> None:
    print('\nMeasured (per rank; bytes received from collectives per '
          'iteration):')
    print('| world | memory | banks GiB | replicated MiB | KiB per iteration '
          '(all_gather / all_reduce / broadcast) | ms per iteration |')
    print('|---:|---|---:|---:|---|---:|')
    for result in measured:
        for name in ('replicated', 'sharded'):
            part = result[name]
            sent = part['bytes_per_iter']
            kinds = ' / '.join(f'{sent.get(kind, 0) / 1024:.1f}' for kind in
                               ('all_gather', 'all_reduce', 'broadcast'))
            print(f"| {result['world']} | {name} | "
                  f"{part['memory']['per_sample_banks'] / 2**30:.3f} | "
                  f"{part['memory']['replicated'] / 2**20:.1f} | {kinds} | "
                  f"{part['ms_per_iter']:.2f} |")
    first = measured[0]
    sharded, replicated = (first[name]['ms_per_iter']
                           for name in ('sharded', 'replicated'))
    print(f"\nTime at world size {first['world']}: sharded {sharded:.2f} "
          f'ms vs replicated {replicated:.2f} ms per iteration: '
          f'{sharded / replicated:.2f}x')
    print('\nComputed beyond this machine (64 images per rank):')
    print('| data | N | world | replicated GiB/rank | sharded GiB/rank | '
          'replicated MiB/iter | sharded MiB/iter |')
    print('|---|---:|---:|---:|---:|---:|---:|')
    by_key = {(row['memory'], row['data'], row['world']): row
              for row in table}
    for data, length in TARGET_LENGTHS.items():
        for world in TARGET_WORLDS:
            rep, sha = (by_key[(name, data, world)]
                        for name in ('replicated', 'sharded'))
            print(f'| {data} | {length:,} | {world} | '
                  f"{rep['gib_per_rank']:.2f} | {sha['gib_per_rank']:.3f} | "
                  f"{rep['mib_per_iter']:.2f} | {sha['mib_per_iter']:.2f} |")
    print('\nHalf-precision feature bank (same batches as float32):')
    print('| bank | MiB | labels equal to float32 | NMI with float32 | '
          'NMI with the classes | label change ratio | ms per iteration |')
    print('|---|---:|---:|---:|---:|---:|---:|')
    for row in half:
        print(f"| {row['dtype']} | {row['bank_mib']:.0f} | "
              f"{row['equal_labels']:.4f} | {row['nmi_with_float32']:.4f} | "
              f"{row['nmi_with_classes']:.4f} | "
              f"{row['label_change_ratio']:.3f} | {row['ms_per_iter']:.2f} |")


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    measured = [measure_world(world, args) for world in args.worlds]
    table = extrapolate(measured, args)
    half = half_precision(args)
    report(measured, table, half)
    print(f'\n({time.perf_counter() - start:.0f} s)')
    if args.out:
        with open(args.out, 'w') as stream:
            json.dump(dict(measured=measured, table=table, half=half),
                      stream, indent=1)


if __name__ == '__main__':
    sys.exit(main())
