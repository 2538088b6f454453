"""ODCMemory and split_in_two on random data."""
import pytest
import torch
import torch.nn.functional as F

import mmodc.models.memories.odc_memory as odc_memory_module
from mmodc.clustering import split_in_two
from mmodc.models.memories.odc_memory import ODCMemory

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
BUFFERS = ('feature_bank', 'label_bank', 'centroids', 'cluster_sums',
           'cluster_counts', 'class_weights', 'initialized')


def clustered(num, dim, num_classes, noise=0.5, seed=0):
    """Noisy unit features around ``num_classes`` centres, and the labels
    they were drawn from."""
    gen = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(num_classes, dim, generator=gen), dim=1)
    labels = torch.arange(num) % num_classes
    labels = labels[torch.randperm(num, generator=gen)]
    features = centres[labels] + noise * torch.randn(num, dim, generator=gen)
    return features, labels


def make_memory(num=2000, dim=16, num_classes=20, min_cluster=5,
                device='cpu', seed=0, noise=0.5, feature_dtype='float32'):
    features, labels = clustered(num, dim, num_classes, noise, seed)
    memory = ODCMemory(num, dim, num_classes=num_classes,
                       min_cluster=min_cluster,
                       feature_dtype=feature_dtype).to(device)
    memory.init_memory(features.to(device), labels.to(device))
    return memory


def train_steps(memory, steps, batch=64, seed=1, noise=1.0, hook=True):
    """ODC iterations on random batches (indices drawn with replacement, so
    batches hold duplicates), with the reference hook intervals."""
    gen = torch.Generator().manual_seed(seed)
    device = memory.feature_bank.device
    for step in range(steps):
        idx = torch.randint(memory.length, (batch, ), generator=gen)
        features = memory.feature_bank[idx.to(device)].cpu() + noise * \
            torch.randn(batch, memory.feat_dim, generator=gen)
        change = memory.update_samples_memory(idx.to(device),
                                              features.to(device))
        assert change.device == memory.feature_bank.device
        assert 0 <= float(change) <= 1
        if hook:
            if (step + 1) % 10 == 0:
                memory.update_centroids()
            memory.deal_with_small_clusters()
            memory.update_class_weights(0.5)


def brute_force_centroids(memory, old_centroids):
    """Per-label means of the bank, from scratch (old centroid if empty)."""
    bank = memory.feature_bank.double()
    rows = []
    for cluster in range(memory.num_classes):
        members = memory.label_bank == cluster
        rows.append(bank[members].mean(0) if members.any() else
                    old_centroids[cluster].double())
    return torch.stack(rows).float()


# ----------------------------------------------------------- invariants
def test_bank_rows_stay_unit_norm():
    memory = make_memory()
    train_steps(memory, 60, noise=3.0)
    norms = memory.feature_bank.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms), atol=1e-5,
                               rtol=0)


def test_counts_sum_to_length_and_match_label_bank():
    memory = make_memory()
    train_steps(memory, 60, noise=3.0)
    counts = memory.cluster_counts
    assert int(counts.sum()) == memory.length
    assert torch.equal(
        counts, torch.bincount(memory.label_bank, minlength=20))
    assert int(memory.label_bank.min()) >= 0
    assert int(memory.label_bank.max()) < memory.num_classes


@pytest.mark.parametrize('dtype', ['float32', 'float16', 'bfloat16'])
def test_incremental_statistics_match_recompute(monkeypatch, dtype):
    """Also with a half-precision bank: the sums add the stored values."""
    memory = make_memory(feature_dtype=dtype)
    # large noise: many labels change, batches hold duplicate indices
    train_steps(memory, 80, batch=256, noise=3.0)
    sums = memory.cluster_sums.clone()
    counts = memory.cluster_counts.clone()
    monkeypatch.setattr(odc_memory_module, 'BANK_CHUNK', 300)
    memory.recompute_cluster_statistics()
    assert memory.feature_bank.dtype == getattr(torch, dtype)
    assert torch.equal(counts, memory.cluster_counts)
    torch.testing.assert_close(sums, memory.cluster_sums, atol=1e-4, rtol=0)


def test_an_unknown_bank_type_is_refused():
    with pytest.raises(ValueError, match="feature_dtype='int8' is not one"):
        ODCMemory(100, 4, num_classes=5, min_cluster=5, feature_dtype='int8')


def test_update_centroids_are_per_label_means():
    memory = make_memory(noise=1.0)
    train_steps(memory, 30, noise=3.0, hook=False)
    # make one cluster empty: its centroid must be kept
    empty = 7
    moved = (memory.label_bank == empty).nonzero().squeeze(1)
    memory._relabel(moved, memory.feature_bank[moved],
                    torch.full_like(moved, 3))
    old = memory.centroids.clone()
    expected = brute_force_centroids(memory, old)
    memory.update_centroids()
    torch.testing.assert_close(memory.centroids, expected, atol=1e-6,
                               rtol=0)
    assert torch.equal(memory.centroids[empty], old[empty])
    # the update changed the other centroids (the bank moved)
    assert not torch.equal(memory.centroids[3], old[3])


def test_init_memory_normalises_and_sets_centroids(monkeypatch):
    monkeypatch.setattr(odc_memory_module, 'BANK_CHUNK', 64)
    features, labels = clustered(500, 8, 5)
    memory = ODCMemory(500, 8, num_classes=5, min_cluster=5)
    memory.init_memory(3 * features, labels)
    torch.testing.assert_close(memory.feature_bank,
                               F.normalize(features, dim=1))
    assert torch.equal(memory.label_bank, labels)
    assert bool(memory.initialized)
    torch.testing.assert_close(
        memory.centroids,
        brute_force_centroids(memory, memory.centroids), atol=1e-6, rtol=0)


# ------------------------------------------------------------- a batch
def test_batch_update_momentum_and_labels():
    memory = make_memory()
    idx = torch.tensor([3, 11, 42])
    features = torch.randn(3, 16)
    old = memory.feature_bank[idx].clone()
    memory.update_samples_memory(idx, features)
    expected = F.normalize(0.5 * old + 0.5 * F.normalize(features, dim=1),
                           dim=1)
    torch.testing.assert_close(memory.feature_bank[idx], expected)
    expected_labels = (expected @ memory.centroids.T).argmax(dim=1)
    assert torch.equal(memory.label_bank[idx], expected_labels)


def test_duplicate_indices_last_occurrence_wins():
    memory = make_memory()
    idx = torch.tensor([5, 9, 5, 12, 5])
    features = torch.randn(5, 16)
    old = memory.feature_bank.clone()
    change = memory.update_samples_memory(idx, features)
    for sample, row in ((5, 4), (9, 1), (12, 3)):
        expected = F.normalize(
            0.5 * old[sample] + 0.5 * F.normalize(features[row], dim=0),
            dim=0)
        torch.testing.assert_close(memory.feature_bank[sample], expected)
        assert int(memory.label_bank[sample]) == int(
            (memory.centroids @ expected).argmax())
    untouched = torch.ones(memory.length, dtype=torch.bool)
    untouched[idx] = False
    assert torch.equal(memory.feature_bank[untouched], old[untouched])
    # change ratio over the 3 distinct samples
    assert float(change) * 3 == pytest.approx(round(float(change) * 3))
    sums = memory.cluster_sums.clone()
    counts = memory.cluster_counts.clone()
    memory.recompute_cluster_statistics()
    assert torch.equal(counts, memory.cluster_counts)
    torch.testing.assert_close(sums, memory.cluster_sums, atol=1e-6, rtol=0)


def test_non_finite_batch_features_raise():
    memory = make_memory()
    before = {name: getattr(memory, name).clone() for name in BUFFERS}
    for bad in (float('nan'), float('inf'), -float('inf')):
        features = torch.randn(4, 16)
        features[2, 5] = bad
        with pytest.raises(FloatingPointError, match='non-finite'):
            memory.update_samples_memory(torch.arange(4), features)
    features = torch.randn(4, 16)
    features[1] = 1e30  # finite, but its norm overflows
    with pytest.raises(FloatingPointError, match='too large'):
        memory.update_samples_memory(torch.arange(4), features)
    for name in BUFFERS:
        assert torch.equal(before[name], getattr(memory, name))
    with pytest.raises(FloatingPointError):
        features, labels = clustered(100, 4, 2)
        features[0, 0] = float('nan')
        ODCMemory(100, 4, num_classes=2,
                  min_cluster=5).init_memory(features, labels)


def test_assign_is_argmax_first_on_ties(monkeypatch):
    memory = make_memory()
    memory.centroids[17] = memory.centroids[2]  # exact tie: 2 must win
    features = F.normalize(torch.randn(300, 16), dim=1)
    features[:5] = F.normalize(memory.centroids[2], dim=0)
    expected = (features @ memory.centroids.T).argmax(dim=1)
    assert torch.equal(memory.assign(features), expected)
    assert (memory.assign(features[:5]) == 2).all()
    # the same with tiny score blocks: 5 rows at a time, then one row times
    # 16 centroids, so that the tie is between two blocks
    for block in (100, 16):
        monkeypatch.setattr(odc_memory_module, 'CPU_SCORE_BLOCK', block)
        assert torch.equal(memory.assign(features), expected)
    assert memory.assign(features[:0]).shape == (0, )
    excluded = torch.zeros(20, dtype=torch.bool)
    excluded[[2, 5, 13]] = True
    scores = features @ memory.centroids.T
    scores[:, excluded] = float('-inf')
    assert torch.equal(
        memory._nearest_centroid(features, excluded=excluded),
        scores.argmax(dim=1))


@pytest.mark.parametrize('group', [4, 128])
@pytest.mark.parametrize('cols', [3, 8, 9, 30, 300, 1000])
def test_row_argmax_matches_argmax(monkeypatch, group, cols):
    monkeypatch.setattr(odc_memory_module, 'ARGMAX_GROUP', group)
    gen = torch.Generator().manual_seed(cols)
    # few distinct values: many ties, within and across groups and the tail
    scores = torch.randint(0, 5, (200, cols), generator=gen).float()
    scores[:20] = torch.randn(20, cols, generator=gen)
    scores[20:25, -1] = 9.  # the tail wins
    scores[25:30, 0] = scores[25:30, -1] = 9.  # tie head / tail: head
    scores[30:35] = float('-inf')
    scores[35:40, :cols // 2] = float('-inf')
    assert torch.equal(odc_memory_module.row_argmax(scores),
                       scores.argmax(dim=1))


# -------------------------------------------------------- small clusters
def test_deal_with_small_clusters():
    num, dim, num_classes, min_cluster = 600, 8, 12, 10
    features, _ = clustered(num, dim, num_classes, noise=0.3)
    labels = torch.arange(num) % 9  # clusters 0..8: about 66 samples each
    labels[:3] = 9  # small, its members must move
    labels[3:12] = 11  # small (9 < 10)
    # cluster 10 is empty; the largest cluster: a tight blob and 5 far
    # outliers, so that a plain 2-means split would give a part of 5
    labels[12:130] = 0
    gen = torch.Generator().manual_seed(3)
    centre = F.normalize(torch.randn(dim, generator=gen), dim=0)
    largest = labels == 0
    features[largest] = centre + 0.05 * torch.randn(
        int(largest.sum()), dim, generator=gen)
    features[12:17] = -centre
    memory = ODCMemory(num, dim, num_classes=num_classes,
                       min_cluster=min_cluster)
    memory.init_memory(features, labels)
    small = memory.cluster_counts < min_cluster
    assert small.tolist() == [False] * 9 + [True] * 3
    scores = memory.feature_bank[:12] @ memory.centroids.T
    scores[:, small] = float('-inf')
    nearest_normal = scores.argmax(dim=1)

    assert memory.deal_with_small_clusters() == 3
    counts = memory.cluster_counts
    assert int(counts.min()) >= min_cluster, counts.tolist()
    assert int(counts.sum()) == num
    assert torch.equal(counts,
                       torch.bincount(memory.label_bank,
                                      minlength=num_classes))
    # members of the small clusters went to their nearest normal cluster,
    # unless a split then gave them to a refilled cluster
    after = memory.label_bank[:12]
    assert ((after == nearest_normal) | (after >= 9)).all()
    assert (after != 9).any() or (after != 11).any()
    # refilled clusters and the clusters split for them have exact centroids
    assert torch.equal(counts, memory.cluster_counts)
    for cluster in (9, 10, 11):
        members = memory.label_bank == cluster
        torch.testing.assert_close(
            memory.centroids[cluster],
            memory.feature_bank[members].double().mean(0).float(),
            atol=1e-6, rtol=0)
    sums = memory.cluster_sums.clone()
    memory.recompute_cluster_statistics()
    torch.testing.assert_close(sums, memory.cluster_sums, atol=1e-6, rtol=0)
    assert memory.deal_with_small_clusters() == 0


def test_deal_with_small_clusters_after_training():
    memory = make_memory(num=1200, num_classes=30, min_cluster=20)
    train_steps(memory, 40, batch=128, noise=5.0)
    assert int(memory.cluster_counts.min()) >= 20


# -------------------------------------------------------- class weights
@pytest.mark.parametrize('power', [0.5, 1.0, 0.])
def test_class_weights(power):
    memory = make_memory()
    train_steps(memory, 20, noise=3.0, hook=False)
    empty = 4
    moved = (memory.label_bank == empty).nonzero().squeeze(1)
    memory._relabel(moved, memory.feature_bank[moved],
                    torch.full_like(moved, 0))
    memory.update_class_weights(power)
    weights = memory.class_weights.double()
    counts = memory.cluster_counts.double()
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert weights[empty] == 0
    nonempty = counts > 0
    assert counts[nonempty].unique().numel() > 1
    # w_c * n_c ** power is the same for every non-empty cluster
    product = weights[nonempty] * counts[nonempty].pow(power)
    torch.testing.assert_close(product, product.mean().expand_as(product),
                               rtol=1e-5, atol=0)
    if power == 0:
        torch.testing.assert_close(
            weights[nonempty],
            torch.full_like(weights[nonempty], 1 / int(nonempty.sum())))


# ------------------------------------------------------------------ init
def test_init_errors_name_the_numbers():
    with pytest.raises(ValueError, match=r'num_classes=50.*length=40'):
        ODCMemory(40, 8, num_classes=50, min_cluster=1)
    with pytest.raises(ValueError,
                       match=r'10 \* 20 > length=150'):
        ODCMemory(150, 8, num_classes=10, min_cluster=20)
    ODCMemory(200, 8, num_classes=10, min_cluster=20)
    memory = ODCMemory(100, 4, num_classes=5, min_cluster=5)
    with pytest.raises(ValueError, match=r'\(100, 3\)'):
        memory.init_memory(torch.randn(100, 3), torch.zeros(100))
    with pytest.raises(ValueError, match='outside'):
        memory.init_memory(torch.randn(100, 4), torch.full((100, ), 5))


# ------------------------------------------------------------ two-means
def test_split_in_two_separates_blobs():
    gen = torch.Generator().manual_seed(0)
    blob_a = torch.randn(70, 8, generator=gen) * 0.1 + 3
    blob_b = torch.randn(30, 8, generator=gen) * 0.1 - 3
    order = torch.randperm(100, generator=gen)
    features = torch.cat([blob_a, blob_b])[order]
    truth = order >= 70
    in_second = split_in_two(features)
    assert in_second.dtype == torch.bool and in_second.shape == (100, )
    assert torch.equal(in_second, truth) or torch.equal(in_second, ~truth)
    assert torch.equal(split_in_two(features), in_second)
    assert torch.equal(split_in_two(features.clone()), in_second)


def test_split_in_two_is_deterministic():
    # no structure: the result depends on the seeds of the 2-means
    features = torch.randn(300, 16, generator=torch.Generator().manual_seed(1))
    first = split_in_two(features)
    assert 0 < int(first.sum()) < 300
    for _ in range(3):  # global random state moves on between calls
        assert torch.equal(split_in_two(features), first)


def test_split_in_two_identical_rows_give_halves():
    features = torch.ones(9, 4)
    assert split_in_two(features).tolist() == [False] * 4 + [True] * 5
    with pytest.raises(ValueError, match='at least 2'):
        split_in_two(features[:1])


def test_split_in_two_min_size_moves_the_boundary():
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(100, 8, generator=gen) * 0.1
    features[:4] += 10  # 4 far outliers
    plain = split_in_two(features)
    assert sorted([int(plain.sum()), int((~plain).sum())]) == [4, 96]
    balanced = split_in_two(features, min_size=15)
    small_side = balanced if int(balanced.sum()) < 50 else ~balanced
    assert int(small_side.sum()) == 15
    assert small_side[:4].all()  # the outliers stay together
    # the boundary moved along the split direction: the 11 added rows are
    # those nearest to the outliers
    distance = (features[4:] - features[:4].mean(0)).norm(dim=1)
    nearest = distance.argsort()[:11] + 4
    assert small_side[nearest].all()


# ------------------------------------------------------- state and device
def test_state_dict_round_trip():
    memory = make_memory()
    train_steps(memory, 15, noise=3.0)
    state = memory.state_dict()
    assert set(BUFFERS) <= set(state)
    fresh = ODCMemory(2000, 16, num_classes=20, min_cluster=5)
    assert not bool(fresh.initialized)
    fresh.load_state_dict(state)
    for name in BUFFERS:
        value = getattr(fresh, name)
        assert value.dtype == state[name].dtype
        assert torch.equal(value, state[name]), name
    # and both continue identically
    train_steps(memory, 5, seed=7, noise=3.0)
    train_steps(fresh, 5, seed=7, noise=3.0)
    for name in BUFFERS:
        assert torch.equal(getattr(fresh, name), getattr(memory, name))


@pytest.mark.parametrize('device', DEVICES)
def test_everything_stays_on_the_bank_device(device):
    memory = make_memory(num=1200, num_classes=30, min_cluster=20,
                         device=device)
    device = memory.feature_bank.device
    # batches arrive on the CPU: the memory moves them
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        idx = torch.randint(1200, (64, ), generator=gen)
        change = memory.update_samples_memory(idx, torch.randn(64, 16))
        assert change.device == device
        assert memory.assign(torch.randn(5, 16).to(device)).device == device
        memory.update_centroids()
        assert isinstance(memory.deal_with_small_clusters(), int)
        memory.update_class_weights(0.5)
    train_steps(memory, 20, noise=5.0)
    for name, buffer in memory.named_buffers():
        assert buffer.device == device, name


def test_renumbering_keeps_the_reference_ids():
    reference = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    # the same partition numbered otherwise, one sample moved
    labels = torch.tensor([2, 2, 1, 0, 0, 1, 1, 1])
    from mmodc.clustering import contingency_table, renumbering
    table = contingency_table(reference, labels, 3)
    assert renumbering(table)[labels].tolist() == [0, 0, 2, 1, 1, 2, 2, 2]


def test_recluster_finds_the_clusters_and_keeps_their_ids():
    """Three well separated groups labelled with 20 % noise: a fresh
    k-means of the bank gives back the groups, under the ids the noisy
    labels mostly gave them, with statistics and centroids to match."""
    torch.manual_seed(0)
    centres = F.normalize(torch.randn(3, 16), dim=1) * 3
    truth = torch.arange(300) % 3
    features = F.normalize(centres[truth] + 0.3 * torch.randn(300, 16),
                           dim=1)
    noisy = truth.clone()
    flipped = torch.rand(300) < 0.2
    noisy[flipped] = (truth[flipped] + 1) % 3
    memory = ODCMemory(length=300, feat_dim=16, num_classes=3,
                       min_cluster=5)
    memory.init_memory(features, noisy)
    changed = memory.recluster(seed=1)
    assert torch.equal(memory.label_bank, truth)
    assert changed == pytest.approx(float(flipped.float().mean()))
    assert memory.cluster_counts.tolist() == [100, 100, 100]
    for cluster in range(3):
        torch.testing.assert_close(
            memory.centroids[cluster],
            memory.feature_bank[truth == cluster].mean(0))


def test_recluster_on_the_whitened_pca_finds_groups_raw_kmeans_misses():
    """Two groups apart along a direction of small variance, a direction
    of 10x the spread without groups: k-means of the raw bank splits the
    wide direction, k-means of the whitened PCA (DeepCluster's
    preprocessing) finds the groups, and the labels are those of
    ``kmeans(preprocess_features(bank, pca_dim))`` renumbered."""
    from mmodc.clustering import kmeans, preprocess_features
    generator = torch.Generator().manual_seed(0)
    truth = torch.arange(400) % 2
    features = torch.stack([
        10 * torch.randn(400, generator=generator),
        2. * truth - 1 + 0.05 * torch.randn(400, generator=generator),
        torch.full((400, ), 1000.)], dim=1)  # little bent by the L2
    raw, whitened = (ODCMemory(length=400, feat_dim=3, num_classes=2,
                               min_cluster=5) for _ in range(2))
    for memory in (raw, whitened):
        memory.init_memory(features, truth)
    raw.recluster(seed=1)
    changed = whitened.recluster(seed=1, pca_dim=2)

    def agreement(labels):
        same = float((labels == truth).float().mean())
        return max(same, 1 - same)

    assert agreement(raw.label_bank) < 0.75
    assert torch.equal(whitened.label_bank, truth)
    assert changed == 0.
    direct = kmeans(preprocess_features(whitened.feature_bank, 2), 2,
                    seed=1)[0]
    assert agreement(direct) == 1.
