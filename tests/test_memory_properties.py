"""Property-based test of ODCMemory (hypothesis): random label banks, cluster
sizes around ``min_cluster``, batches with duplicate indices, tiny N and K
(K up to N / min_cluster) and any sequence of the memory's operations."""
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mmodc.models.memories.odc_memory import ODCMemory

MAX_SAMPLES = 40
OPERATIONS = ('update', 'centroids', 'small_clusters', 'class_weights')


@st.composite
def memories(draw):
    """An initialised memory and the sequence of operations to apply."""
    min_cluster = draw(st.integers(1, 4))
    length = draw(st.integers(min_cluster, MAX_SAMPLES))
    most_clusters = length // min_cluster
    num_classes = draw(
        st.one_of(st.just(most_clusters), st.integers(1, most_clusters)))
    # labels crowded into a few clusters, so that many start small or empty
    crowded = draw(st.integers(1, num_classes))
    labels = draw(
        st.lists(st.integers(0, crowded - 1), min_size=length,
                 max_size=length))
    dim = draw(st.integers(1, 4))
    # few distinct directions make exact ties and identical rows likely
    distinct = draw(st.integers(1, length))
    seed = draw(st.integers(0, 2**16))
    memory = ODCMemory(length, dim, draw(st.sampled_from([0., 0.5, 1.])),
                       num_classes=num_classes, min_cluster=min_cluster)
    gen = torch.Generator().manual_seed(seed)
    directions = torch.randn(distinct, dim, generator=gen)
    which = torch.randint(distinct, (length, ), generator=gen)
    memory.init_memory(directions[which], torch.tensor(labels))
    batches = st.lists(st.integers(0, length - 1), min_size=1, max_size=12)
    steps = draw(
        st.lists(st.tuples(st.sampled_from(OPERATIONS), batches),
                 min_size=1, max_size=8))
    return memory, steps, seed


def check_invariants(memory: ODCMemory) -> None:
    """Unit rows; counts and sums equal to what the banks say."""
    norms = memory.feature_bank.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms), atol=1e-5,
                               rtol=0)
    labels = memory.label_bank
    assert int(labels.min()) >= 0 and int(labels.max()) < memory.num_classes
    counts = torch.bincount(labels, minlength=memory.num_classes)
    assert torch.equal(memory.cluster_counts, counts)
    assert int(memory.cluster_counts.sum()) == memory.length
    sums = torch.zeros_like(memory.cluster_sums).index_add_(
        0, labels, memory.feature_bank.double())
    torch.testing.assert_close(memory.cluster_sums, sums, atol=1e-4, rtol=0)


def check_update(memory: ODCMemory, idx: torch.Tensor,
                 features: torch.Tensor) -> None:
    """Apply a batch and check it against the update written out row by
    row: the last occurrence of an index wins, other rows are untouched,
    and each updated row takes its nearest centroid."""
    old_bank = memory.feature_bank.clone()
    old_labels = memory.label_bank.clone()
    expected = {}
    for position, index in enumerate(idx.tolist()):
        expected[index] = features[position]
    memory.update_samples_memory(idx, features)
    touched = torch.zeros(memory.length, dtype=torch.bool)
    touched[idx] = True
    assert torch.equal(memory.feature_bank[~touched], old_bank[~touched])
    assert torch.equal(memory.label_bank[~touched], old_labels[~touched])
    for index, feature in expected.items():
        feature = F.normalize(feature, dim=0)
        mixed = torch.lerp(old_bank[index], feature, memory.momentum)
        # opposite rows cancel out at m = 0.5: the new row is kept
        new = mixed / mixed.norm() if mixed.norm() > 1e-6 else feature
        torch.testing.assert_close(memory.feature_bank[index], new,
                                   atol=1e-5, rtol=0)
    scores = memory.feature_bank[touched] @ memory.centroids.T
    chosen = scores.gather(1, memory.label_bank[touched].unsqueeze(1))
    torch.testing.assert_close(chosen.squeeze(1), scores.amax(dim=1),
                               atol=1e-6, rtol=0)


def check_centroids(memory: ODCMemory) -> None:
    """Non-empty centroids become their cluster's mean, empty ones stay."""
    old = memory.centroids.clone()
    memory.update_centroids()
    counts = memory.cluster_counts
    means = torch.zeros_like(old).index_add_(0, memory.label_bank,
                                             memory.feature_bank)
    means /= counts.clamp(min=1).unsqueeze(1)
    filled = counts > 0
    torch.testing.assert_close(memory.centroids[filled], means[filled],
                               atol=1e-5, rtol=0)
    assert torch.equal(memory.centroids[~filled], old[~filled])


def check_small_clusters(memory: ODCMemory) -> None:
    """No cluster is left empty, and none below ``min_cluster`` when there
    are enough samples for every split to give two parts of that size."""
    small_before = int((memory.cluster_counts < memory.min_cluster).sum())
    assert memory.deal_with_small_clusters() == small_before
    counts = memory.cluster_counts
    assert int(counts.min()) >= 1
    if memory.length >= 2 * memory.min_cluster * (memory.num_classes - 1):
        assert int(counts.min()) >= memory.min_cluster, counts.tolist()


def check_class_weights(memory: ODCMemory) -> None:
    memory.update_class_weights(0.5)
    weights = memory.class_weights
    torch.testing.assert_close(weights.sum(), torch.tensor(1.))
    assert torch.equal(weights > 0, memory.cluster_counts > 0)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(memories())
def test_memory_invariants_hold_after_every_operation(case):
    memory, steps, seed = case
    gen = torch.Generator().manual_seed(seed + 1)
    check_invariants(memory)
    for operation, batch in steps:
        if operation == 'update':
            idx = torch.tensor(batch)
            features = torch.randn(len(batch), memory.feat_dim,
                                   generator=gen)
            check_update(memory, idx, features)
        elif operation == 'centroids':
            check_centroids(memory)
        elif operation == 'small_clusters':
            check_small_clusters(memory)
        else:
            check_class_weights(memory)
        check_invariants(memory)
    check_small_clusters(memory)
    check_invariants(memory)
