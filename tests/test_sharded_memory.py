"""ShardedODCMemory under real torch.distributed (gloo, 2 processes; 4 in
test_odc_distributed's resume test) gives the labels (identical), features
(1e-6) and statistics of the replicated ODCMemory after updates,
small-cluster passes with members on every rank, splits of the largest
cluster and k-means re-clusterings (of the features and of their whitened
PCA), and after real ODC training iterations (2 processes,
tools/dist_train.sh, the initial clustering done without any rank holding
every feature); sampled_kmeans and sampled_preprocess (PCA) fit on a
sample with the rows spread over the ranks."""
import os
import socket

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from conftest import shrink_config, with_test_hook
from test_odc_distributed import launch

from mmodc.clustering import (
    preprocess_features,
    sampled_kmeans,
    sampled_preprocess,
)
from mmodc.models import ODCMemory, ShardedODCMemory

N, DIM, K, MIN_CLUSTER, BATCH, STEPS = 98, 8, 6, 5, 7, 12


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def initial_clustering():
    """Random features; cluster 0 has min_cluster - 1 members, spread
    over every rank (indices 0 to 3), so the first small-cluster pass
    dissolves it and refills it from the largest cluster."""
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(N, DIM, generator=generator)
    labels = 1 + torch.arange(N) % (K - 1)
    labels[:MIN_CLUSTER - 1] = 0
    labels[50:80] = 1  # a clearly largest cluster to split
    return features, labels


def local_batch(step: int, rank: int):
    generator = torch.Generator().manual_seed(1000 * step + rank)
    idx = torch.randint(0, N, (BATCH, ), generator=generator)
    return idx, torch.randn(BATCH, DIM, generator=generator)


def compare(replicated: ODCMemory, sharded: ShardedODCMemory, rank: int,
            world: int, what: str) -> None:
    assert torch.equal(sharded.gather_labels(), replicated.label_bank), what
    torch.testing.assert_close(sharded.feature_bank,
                               replicated.feature_bank[rank::world],
                               atol=1e-6, rtol=0, msg=what)
    assert torch.equal(sharded.cluster_counts, replicated.cluster_counts)
    torch.testing.assert_close(sharded.cluster_sums, replicated.cluster_sums,
                               atol=1e-9, rtol=0, msg=what)
    torch.testing.assert_close(sharded.centroids, replicated.centroids,
                               atol=1e-6, rtol=0, msg=what)


def run_both(rank: int, world: int, feature_dtype: str = 'float32') -> None:
    """The same operations on both memories; checked after each."""
    memories = [cls(N, DIM, momentum=0.5, num_classes=K,
                    min_cluster=MIN_CLUSTER, feature_dtype=feature_dtype)
                for cls in (ODCMemory, ShardedODCMemory)]
    replicated, sharded = memories
    assert sharded.feature_bank.shape[0] == len(range(rank, N, world))
    features, labels = initial_clustering()
    for memory in memories:
        memory.init_memory(features, labels)
    compare(replicated, sharded, rank, world, 'init')
    dissolved = [memory.deal_with_small_clusters() for memory in memories]
    assert dissolved == [1, 1]
    assert int(sharded.cluster_counts.min()) >= MIN_CLUSTER
    compare(replicated, sharded, rank, world, 'small clusters')
    for step in range(STEPS):
        idx, batch = local_batch(step, rank)
        assert torch.equal(sharded.labels_of(idx), replicated.labels_of(idx))
        changed = [memory.update_samples_memory(idx, batch)
                   for memory in memories]
        assert torch.equal(changed[0], changed[1])
        for memory in memories:
            memory.update_centroids()
            memory.deal_with_small_clusters()
        compare(replicated, sharded, rank, world, f'step {step}')
    # k-means of the banks (on a sample: all 98 rows here), renumbered
    changed = [memory.recluster(seed=1) for memory in memories]
    assert changed[0] == changed[1] > 0
    compare(replicated, sharded, rank, world, 'recluster')
    # the same on the whitened PCA (fitted on the sample: all rows)
    changed = [memory.recluster(seed=2, pca_dim=4) for memory in memories]
    assert changed[0] == changed[1] > 0
    compare(replicated, sharded, rank, world, 'recluster on the PCA')


def sample_kmeans_of_blobs(rank: int, world: int) -> None:
    """Two far-apart blobs of 1,000 rows, spread over the ranks: k-means
    on a sample of 100 rows finds them, every rank labels its own rows,
    and the centroids are the same everywhere."""
    generator = torch.Generator().manual_seed(0)
    blobs = torch.randint(0, 2, (2000, ), generator=generator)
    points = torch.randn(2000, 3, generator=generator)
    points[:, 0] += 20 * blobs
    mine = torch.arange(rank, 2000, world)
    labels, centroids = sampled_kmeans(points[mine], mine, 2,
                                       sample_size=100, seed=1)
    everyone = [torch.empty_like(centroids) for _ in range(world)]
    torch_dist.all_gather(everyone, centroids)
    assert all(torch.equal(other, centroids) for other in everyone)
    # one label per blob, the same on every rank
    first = int(labels[blobs[mine] == 0][0])
    assert torch.equal(labels, torch.where(blobs[mine] == 0, first,
                                           1 - first))
    gathered = [torch.empty(1, dtype=torch.long) for _ in range(world)]
    torch_dist.all_gather(gathered, torch.tensor([first]))
    assert len({int(other) for other in gathered}) == 1


def sampled_pca_of_spread_rows(rank: int, world: int) -> None:
    """The whitened PCA fitted on a sample of all rows equals that of the
    whole matrix on one rank (up to float rounding); fitted on a smaller
    sample, every rank gets other unit rows of the PCA dimension."""
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(300, 12, generator=generator) * torch.arange(1, 13)
    mine = torch.arange(rank, 300, world)
    whole = preprocess_features(points, pca_dim=4)[mine]
    sampled = sampled_preprocess(points[mine], mine, 4, sample_size=300)
    torch.testing.assert_close(sampled, whole, atol=1e-5, rtol=0)
    small = sampled_preprocess(points[mine], mine, 4, sample_size=60,
                               seed=3)
    assert small.shape == (len(mine), 4)
    torch.testing.assert_close(small.norm(dim=1), torch.ones(len(mine)))
    assert not torch.allclose(small, whole, atol=1e-3)


def worker(rank: int, world: int, port: int, check) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch_dist.init_process_group('gloo', rank=rank, world_size=world)
    torch.set_num_threads(1)
    try:
        check(rank, world)
    finally:
        torch_dist.destroy_process_group()


@pytest.mark.slow  # processes of their own
def test_sharded_memory_matches_the_replicated_one():
    # 4 ranks: test_odc_distributed's resume test trains a sharded memory
    # on 4 processes and resumes it on 2
    mp.spawn(worker, args=(2, free_port(), run_both), nprocs=2, join=True)


def run_both_in_half_precision(rank: int, world: int) -> None:
    run_both(rank, world, feature_dtype='float16')


@pytest.mark.slow  # processes of their own
def test_a_half_precision_sharded_memory_matches_the_replicated_one():
    mp.spawn(worker, args=(2, free_port(), run_both_in_half_precision),
             nprocs=2, join=True)


@pytest.mark.slow  # processes of their own
def test_sampled_kmeans_over_two_ranks():
    mp.spawn(worker, args=(2, free_port(), sample_kmeans_of_blobs),
             nprocs=2, join=True)


@pytest.mark.slow  # processes of their own
def test_sampled_pca_over_two_ranks():
    mp.spawn(worker, args=(2, free_port(), sampled_pca_of_spread_rows),
             nprocs=2, join=True)


def test_one_process_holds_the_whole_memory():
    run_both(rank=0, world=1)


@pytest.mark.slow  # processes of their own
def test_odc_training_with_a_sharded_memory_matches_the_replicated_one(
        quickstart_cfg, tmp_path):
    """4 iterations of the tiny ODC config with 2 processes, once with
    each memory: the whole banks after every iteration."""
    runs = {}
    for memory in ('ODCMemory', 'ShardedODCMemory'):
        work_dir = str(tmp_path / memory)
        cfg = shrink_config(quickstart_cfg, num_images=150, num_clusters=8,
                            batch_size=10, work_dir=work_dir)
        cfg.model.memory_bank.type = memory
        with_test_hook(cfg, 'WholeMemoryDumpHook', 'memory_dump_hook')
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=4)
        cfg.default_hooks.checkpoint = None
        runs[memory] = work_dir
        if memory == 'ShardedODCMemory':
            # MMEngine's CheckpointHook would write rank 0's shard only
            cfg.default_hooks.checkpoint = dict(type='CheckpointHook')
            refused = launch(cfg, work_dir, 1, check=False)
            assert refused.returncode != 0
            assert ('a ShardedODCMemory is saved in shard files beside each '
                    'checkpoint, which only SafeCheckpointHook writes'
                    ) in refused.stderr
            cfg.default_hooks.checkpoint = dict(type='SafeCheckpointHook')
        result = launch(cfg, work_dir, processes=2)
        if memory == 'ShardedODCMemory':  # no rank held all the features
            assert ('k-means with k=8 on a sample of the 150 sharded '
                    'features') in result.stdout + result.stderr
    for iteration in range(1, 5):
        replicated, sharded = (
            torch.load(os.path.join(work_dir, f'whole_iter{iteration}.pt'))
            for work_dir in runs.values())
        assert torch.equal(sharded['labels'], replicated['labels'])
        torch.testing.assert_close(sharded['features'],
                                   replicated['features'], atol=1e-6,
                                   rtol=0)


def test_no_rank_allocates_the_whole_bank(monkeypatch):
    """Rank 3 of 1,000,000 with N = 10^9 and d = 256 (a 1 TB bank):
    only its 1,000 rows are allocated."""
    import mmodc.models.memories.sharded_odc_memory as module
    monkeypatch.setattr(module, 'get_world_size', lambda: 1_000_000)
    monkeypatch.setattr(module, 'get_rank', lambda: 3)
    memory = ShardedODCMemory(10**9, 256, num_classes=10, min_cluster=1,
                              feature_dtype='float16')
    assert memory.feature_bank.shape == (1000, 256)
    assert memory.feature_bank.dtype == torch.float16
    assert memory.label_bank.shape == (1000, )
    assert memory.local_indices()[:2].tolist() == [3, 1_000_003]
