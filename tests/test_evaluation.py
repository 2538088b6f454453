"""Tests of mmodc.evaluation: clustering metrics, kNN, feature scores."""
import numpy as np
import pytest
import torch
from sklearn.metrics import normalized_mutual_info_score

from mmodc.evaluation.functional import (
    adjusted_rand_index,
    cluster_accuracy,
    cluster_purity,
    clustering_scores,
    contingency_matrix,
    knn_accuracy,
    knn_class_scores,
    knn_predict,
    normalized_mutual_info,
)


def test_nmi_and_ari_by_hand():
    # The clusters refine the classes: H(Y) = ln 2, H(Z) = 1.5 ln 2 and
    # I(Y; Z) = H(Y), so NMI = 1 / 1.25. Pairs: 1 together in both, 2 in
    # the classes, 1 in the clusters, 6 in all: ARI = (1 - 1/3) / (1.5 -
    # 1/3) = 4/7.
    truth = np.array([0, 0, 1, 1])
    pred = np.array([5, 5, 2, 9])
    assert normalized_mutual_info(truth, pred) == pytest.approx(0.8)
    assert adjusted_rand_index(truth, pred) == pytest.approx(4 / 7)
    assert normalized_mutual_info(pred, truth) == pytest.approx(0.8)


def test_metrics_check_their_inputs():
    with pytest.raises(ValueError, match='labels_pred has 3'):
        normalized_mutual_info([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match='at least one sample'):
        adjusted_rand_index([], [])
    with pytest.raises(TypeError, match='integer ids'):
        normalized_mutual_info(np.array([0.5, 1.0]), [0, 1])


def test_identical_and_degenerate_labelings():
    labels = np.array([0, 0, 1, 1, 2, 2])
    assert normalized_mutual_info(labels, labels) == pytest.approx(1.0)
    assert adjusted_rand_index(labels, labels) == pytest.approx(1.0)
    # Renaming the clusters changes nothing; ids need not be contiguous.
    renamed = np.array([9, 9, 4, 4, 7, 7])
    assert normalized_mutual_info(labels, renamed) == pytest.approx(1.0)
    assert cluster_accuracy(labels, renamed) == 1.0
    ones = np.zeros(6, dtype=int)
    assert normalized_mutual_info(ones, ones) == 1.0
    assert adjusted_rand_index(ones, ones) == 1.0
    # one cluster tells nothing about three classes
    assert normalized_mutual_info(labels, ones) == pytest.approx(0.0)
    assert adjusted_rand_index(labels, ones) == pytest.approx(0.0)


def test_torch_inputs_and_contingency():
    truth = torch.tensor([0, 0, 1, 1, 1])
    pred = torch.tensor([5, 3, 3, 3, 3])
    np.testing.assert_array_equal(
        contingency_matrix(truth, pred), [[1, 1], [3, 0]])
    assert normalized_mutual_info(truth, pred) == pytest.approx(
        normalized_mutual_info_score(truth.numpy(), pred.numpy()))


def test_cluster_accuracy_by_hand():
    # classes:   0  0  0  1  1  1  2  2
    # clusters:  1  1  2  0  0  2  2  2
    # Best one-to-one matching: cluster 1 -> class 0 (2 right),
    # cluster 0 -> class 1 (2 right), cluster 2 -> class 2 (2 right).
    truth = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    pred = np.array([1, 1, 2, 0, 0, 2, 2, 2])
    assert cluster_accuracy(truth, pred) == pytest.approx(6 / 8)
    # Many-to-one would not be allowed: 4 clusters, 2 classes. Clusters
    # 0 and 1 are both mostly class 0, but only one of them can take it.
    truth = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    pred = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    assert cluster_accuracy(truth, pred) == pytest.approx(4 / 8)
    assert cluster_purity(truth, pred) == 1.0


def test_clustering_scores_keys():
    scores = clustering_scores([0, 1, 1], [1, 0, 0])
    assert set(scores) == {'nmi', 'ari', 'acc', 'purity'}
    assert all(value == pytest.approx(1.0) for value in scores.values())


def test_bad_label_inputs():
    with pytest.raises(ValueError, match='samples'):
        normalized_mutual_info([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match='1-d'):
        cluster_accuracy(np.zeros((2, 2), int), np.zeros((2, 2), int))
    with pytest.raises(TypeError, match='integer'):
        adjusted_rand_index([0.5, 1.0], [0, 1])


def _toy_knn():
    """Train points on the unit circle at known angles; two classes."""
    angles = torch.tensor([0., 10., 20., 100., 110., 120.])
    radians = torch.deg2rad(angles)
    # Scaled rows: the cosine similarity ignores the norm.
    train = torch.stack([radians.cos(), radians.sin()], 1) * torch.tensor(
        [[1.], [2.], [3.], [1.], [2.], [3.]])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    return train, labels


def test_knn_majority_by_hand():
    train, labels = _toy_knn()
    # Query at 55 degrees: neighbours by angle distance are 20 (35), 100
    # (45), 10 (45), then 110 (55), 0 (55). k=3 -> classes {0, 1, 0}.
    query = torch.tensor([[np.cos(np.deg2rad(55.)),
                           np.sin(np.deg2rad(55.))]]).float()
    scores = knn_class_scores(train, labels, query, k=3, temperature=None)
    torch.testing.assert_close(scores, torch.tensor([[2., 1.]]))
    assert knn_predict(train, labels, query, k=3, temperature=None) == 0


def test_knn_weighted_votes_by_hand():
    train, labels = _toy_knn()
    query = torch.tensor([[np.cos(np.deg2rad(80.)),
                           np.sin(np.deg2rad(80.))]]).float()
    # k=4: angles 100 (20), 110 (30), 20 (60), 120 (40) -> the four
    # nearest are 100, 110, 120 (class 1) and 20 (class 0).
    temperature = 0.5
    cos = torch.cos(torch.deg2rad(torch.tensor([20., 30., 40., 60.])))
    expected = torch.tensor([[
        torch.exp(cos[3] / temperature),
        torch.exp(cos[:3] / temperature).sum()
    ]])
    scores = knn_class_scores(
        train, labels, query, k=4, temperature=temperature)
    torch.testing.assert_close(scores, expected)


def test_knn_weighting_can_flip_the_vote():
    # One very close neighbour of class 1 against two far ones of class 0.
    train = torch.tensor([[1., 0.], [0.6, 0.8], [0.6, -0.8]])
    labels = torch.tensor([1, 0, 0])
    query = torch.tensor([[1., 0.01]])
    assert knn_predict(train, labels, query, k=3, temperature=None) == 0
    assert knn_predict(train, labels, query, k=3, temperature=0.07) == 1


def test_knn_batched_equals_unbatched_and_accuracy():
    generator = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 8, generator=generator) * 3
    train_labels = torch.arange(200) % 4
    test_labels = torch.arange(50) % 4
    train = centers[train_labels] + torch.randn(200, 8, generator=generator)
    test = centers[test_labels] + torch.randn(50, 8, generator=generator)
    full = knn_class_scores(train, train_labels, test, k=5, batch_size=50)
    batched = knn_class_scores(train, train_labels, test, k=5, batch_size=7)
    torch.testing.assert_close(full, batched)
    top1, top4 = knn_accuracy(
        train, train_labels, test, test_labels, k=5, topk=(1, 4))
    predicted = full.argmax(1)
    assert top1 == pytest.approx(float((predicted == test_labels).float()
                                       .mean()))
    assert top1 > 0.9
    assert top4 == 1.0


def test_knn_bad_inputs():
    train, labels = _toy_knn()
    with pytest.raises(ValueError, match='k=7'):
        knn_class_scores(train, labels, train, k=7)
    with pytest.raises(ValueError, match='dims'):
        knn_class_scores(train, labels, torch.zeros(2, 3), k=1)
    with pytest.raises(ValueError, match='temperature'):
        knn_class_scores(train, labels, train, k=1, temperature=0.)


def _blobs(num_per_class: int, seed: int):
    """Three well separated Gaussian blobs in 5-d."""
    generator = torch.Generator().manual_seed(seed)
    centers = torch.eye(5)[:3] * 10
    labels = torch.arange(3).repeat_interleave(num_per_class)
    features = centers[labels] + 0.1 * torch.randn(
        len(labels), 5, generator=generator)
    return features, labels.numpy()


def test_evaluate_features_on_separable_blobs():
    from mmodc.evaluation.feature_eval import evaluate_features
    train, train_labels = _blobs(50, 0)
    test, test_labels = _blobs(10, 1)
    scores = evaluate_features(
        train, train_labels, test, test_labels, num_clusters=3,
        kmeans_seeds=(0, 1), knn_k=5)
    assert scores['dim'] == 5
    for key in ('nmi', 'ari', 'acc', 'purity', 'knn_top1'):
        assert scores[key] == pytest.approx(1.0), key
    assert scores['nmi_std'] == pytest.approx(0.0)
    with pytest.raises(ValueError, match='test_labels'):
        evaluate_features(train, train_labels, test, None)


def test_cluster_plots_write_pngs(tmp_path):
    from mmodc.analysis.cluster_plots import (
        plot_cluster_gallery,
        plot_cluster_sizes,
    )
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 15, 300)
    images = rng.integers(0, 255, (300, 28, 28)).astype(np.uint8)
    plot_cluster_sizes(labels, 20, str(tmp_path / 'sizes.png'))
    plot_cluster_gallery(
        images, labels, str(tmp_path / 'gallery.png'),
        class_labels=labels % 3, class_names=['a', 'b', 'c'], num_rows=4,
        per_row=5)
    for name in ('sizes.png', 'gallery.png'):
        assert (tmp_path / name).read_bytes()[:4] == b'\x89PNG'


def _write_idx(path, array: np.ndarray, magic: int) -> None:
    """Write an MNIST-style gzipped idx file."""
    import gzip
    header = np.array([magic, len(array), *array.shape[1:]], dtype='>i4')
    with gzip.open(path, 'wb') as stream:
        stream.write(header.tobytes() + array.astype(np.uint8).tobytes())


def _tiny_fashion_mnist(root, num_train: int, num_test: int) -> None:
    """Idx files of class-dependent 28 x 28 images (bright band per class)."""
    rng = np.random.default_rng(0)
    for prefix, num in (('train', num_train), ('t10k', num_test)):
        labels = np.arange(num) % 4
        images = rng.integers(0, 40, (num, 28, 28))
        for index, label in enumerate(labels):
            images[index, 7 * label:7 * label + 7] += 200
        _write_idx(root / f'{prefix}-images-idx3-ubyte.gz', images, 2051)
        _write_idx(root / f'{prefix}-labels-idx1-ubyte.gz', labels, 2049)


def test_odc_report_end_to_end(tmp_path):
    """A tiny ODC model, checkpointed with a filled memory, is reported."""
    import json
    import os.path as osp

    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import save_checkpoint

    import mmodc  # noqa: F401
    from mmodc.analysis.odc_report import ODCReport, build_odc_model

    data_root = tmp_path / 'data'
    data_root.mkdir()
    _tiny_fashion_mnist(data_root, 120, 40)
    repo = osp.dirname(osp.dirname(osp.abspath(__file__)))
    cfg = Config.fromfile(
        osp.join(repo, 'configs/selfsup/odc/'
                 'odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py'))
    loader = dict(
        batch_size=32,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(
            type='FashionMNIST',
            data_root=str(data_root),
            split='train',
            pipeline=[dict(type='PackInputs')]))
    cfg.merge_from_dict({
        'extract_dataloader': loader,
        'model.memory_bank.length': 120,
        'model.memory_bank.num_classes': 5,
        'model.head.num_classes': 5,
    })
    init_default_scope('mmodc')
    model = build_odc_model(cfg, seed=0)
    memory = model.memory_bank
    labels = torch.arange(120) % 5
    memory.init_memory(torch.randn(120, memory.feat_dim), labels)
    checkpoint = str(tmp_path / 'epoch_1.pth')
    records = [
        dict(epoch=0, iter=0, train_seconds=1.0, **{'backbone/knn_top1': .5,
                                                    'backbone/nmi': .1}),
        dict(epoch=1, iter=4, train_seconds=9.0, train_loss=2.5,
             **{'backbone/knn_top1': .7, 'backbone/nmi': .3}),
    ]
    save_checkpoint(
        dict(state_dict=model.state_dict(),
             meta=dict(feature_monitor=dict(records=records))), checkpoint)

    messages = []
    report = ODCReport(
        cfg, checkpoint, str(tmp_path / 'report'), kmeans_seeds=(0, ),
        knn_k=5, logger=messages.append)
    text = report.run()

    assert set(report.rows) == {
        'ODC backbone', 'ODC neck', 'untrained backbone', 'untrained neck',
        'raw pixels'
    }
    pixels = report.rows['raw pixels']
    assert pixels['dim'] == 784
    # The bands make the classes trivially separable in pixel space.
    assert pixels['knn_top1'] == pytest.approx(1.0)
    assert report.odc_labels['num_clusters'] == 5
    assert report.odc_labels['min_size'] == 24
    assert '| raw pixels | 784 |' in text
    assert f'Better ODC features: *{report.best_kind()}*' in text
    assert '| 1 | 9 | 0.7000 | 0.3000 | - | - | 2.500 | - |' in text
    assert '![training curves](training_curves.png)' in text
    for name in ('odc_report.md', 'odc_report.json', 'cluster_sizes.png',
                 'cluster_gallery.png', 'training_curves.png'):
        assert (tmp_path / 'report' / name).is_file(), name
    saved = json.loads((tmp_path / 'report' / 'odc_report.json').read_text())
    assert saved['odc_labels']['nmi'] == pytest.approx(
        normalized_mutual_info(np.arange(120) % 4, labels.numpy()))
    assert any('extract pixels train' in message for message in messages)


def test_odc_report_says_when_there_are_no_curves(tmp_path):
    from mmengine.config import Config
    from mmengine.runner import save_checkpoint

    from mmodc.analysis.odc_report import ODCReport

    checkpoint = str(tmp_path / 'plain.pth')
    save_checkpoint(dict(state_dict={}, meta={}), checkpoint)
    messages = []
    report = ODCReport(Config(dict()), checkpoint, str(tmp_path),
                       logger=messages.append)
    report.labels = dict(train=np.zeros(2, int), test=np.zeros(2, int))
    report._curves()
    assert report.curves == []
    assert 'holds no FeatureMonitorHook records' in messages[0]
    assert 'no curves' in report.markdown()
    assert not (tmp_path / 'training_curves.png').exists()


def test_odc_report_summary_picks_better_kind_and_compares():
    """The summary names the better ODC feature kind and each verdict."""
    from mmengine.config import Config

    from mmodc.analysis.odc_report import ODCReport

    report = ODCReport(Config(dict()), 'ckpt.pth', 'unused')
    assert report.summary() == ''
    row = dict(dim=8, nmi=0.0, nmi_std=0.0, ari=0.0, acc=0.0, knn_top1=0.0)
    report.rows = {
        'ODC backbone': {**row, 'nmi': 0.6, 'knn_top1': 0.80},
        'ODC neck': {**row, 'nmi': 0.7, 'knn_top1': 0.75},
        'untrained neck': {**row, 'nmi': 0.2, 'knn_top1': 0.5},
        'untrained backbone': {**row, 'nmi': 0.2, 'knn_top1': 0.5},
        'raw pixels': {**row, 'nmi': 0.5, 'knn_top1': 0.85},
    }
    assert report.best_kind() == 'backbone'
    text = report.summary()
    assert 'Better ODC features: *backbone*' in text
    assert ('ODC backbone vs untrained backbone: k-means NMI 0.6000 vs '
            '0.2000 (better), kNN top-1 0.8000 vs 0.5000 (better)') in text
    assert ('ODC backbone vs raw pixels: k-means NMI 0.6000 vs 0.5000 '
            '(better), kNN top-1 0.8000 vs 0.8500 (not better)') in text
    report.rows['ODC neck']['knn_top1'] = 0.9
    assert report.best_kind() == 'neck'


def test_clustering_metric_registered():
    from mmengine.registry import init_default_scope

    import mmodc  # noqa: F401
    from mmodc.registry import METRICS

    init_default_scope('mmodc')
    metric = METRICS.build(dict(type='ClusteringMetric'))
    predictions = [
        dict(pred_label=torch.tensor(3), gt_label=torch.tensor([0])),
        dict(pred_label=torch.tensor(3), gt_label=torch.tensor([0])),
        dict(pred_label=torch.tensor(1), gt_label=torch.tensor([1])),
        dict(pred_label=torch.tensor(1), gt_label=torch.tensor([2])),
    ]
    metric.process(None, predictions)
    scores = metric.evaluate(len(predictions))
    assert scores['clustering/acc'] == pytest.approx(3 / 4)
    assert scores['clustering/nmi'] == pytest.approx(
        normalized_mutual_info_score([0, 0, 1, 2], [3, 3, 1, 1]))
    with pytest.raises(KeyError, match='gt_label'):
        metric.process(None, [dict(pred_label=torch.tensor(0))])
