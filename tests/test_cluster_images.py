"""tools/cluster_images.py on real files: a generated folder (nested, mixed
sizes, grey and colour, PNG and JPEG) trained on with --train, the same
folder with bad files added, and Fashion-MNIST images with labels; every
CSV checked row by row against the saved embeddings, the HTML report
opened in headless Chromium and every local link and image resolved. The
tool runs in processes of their own, forked from one that has imported
mmodc (tests/forked_train.py)."""
import csv
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, Iterator, List
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
import torch
from conftest import FASHION_MNIST, QUICKSTART, REPO
from forked_train import PRELOADED, ForkedTool
from PIL import Image
from tiny_setup import FOLDER_TRAIN_OPTIONS as TRAIN_OPTIONS
from tiny_setup import clean_env, write_images, write_index

from mmodc.clustering.neighbours import (
    nearest_neighbours,
    ranks_within_clusters,
    similar_pairs,
    unit_rows,
)
from mmodc.datasets.image_files import decode_image, list_image_files
from mmodc.datasets.transforms import (
    CheckedLoadImageFromFile,
    UnreadableImageError,
)
from mmodc.evaluation import clustering_scores

TOOL = os.path.join(REPO, 'tools', 'cluster_images.py')
FOLDER_CONFIG = os.path.join(
    REPO, 'configs', 'selfsup', 'odc',
    'odc_resnet18-w16_1xb256-steplr-8e_image-folder.py')
NUM_IMAGES = 200


@pytest.fixture(scope='module')
def tool() -> Iterator[ForkedTool]:
    """Runs of tools/cluster_images.py, each a process of its own forked
    from one that has imported mmodc once (tests/forked_train.py), in the
    environment of an installed mmodc (no ``PYTHONPATH``), on the CPU."""
    with ForkedTool(TOOL, env=clean_env(CUDA_VISIBLE_DEVICES=''),
                    preload=PRELOADED + ('mmodc.apis',
                                         'mmodc.analysis.cluster_images',
                                         'sklearn.manifold')) as forked:
        yield forked


def run_tool(tool: ForkedTool, *args: str,
             check: bool = True) -> subprocess.CompletedProcess:
    result = tool.run(*args, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def read_rows(path: Path) -> List[Dict[str, str]]:
    with open(path, newline='') as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope='module')
def trained(tool, tmp_path_factory) -> Dict[str, Path]:
    """--train: the CPU image-folder ODC config, one epoch on 200 mixed
    images plus an exact copy of one of them."""
    root = tmp_path_factory.mktemp('cluster_images')
    folder = root / 'images'
    write_images(folder, NUM_IMAGES, seed=0)
    shutil.copy(folder / 'flat' / 's0_3.png', folder / 'copy_of_s0_3.png')
    out = root / 'out'
    run_tool(tool, str(folder), '--work-dir', str(out), '--train',
             FOLDER_CONFIG, '--k', '6', '--num-workers', '0', '--map-points',
             '150', '--cfg-options', *TRAIN_OPTIONS)
    return dict(folder=folder, out=out,
                checkpoint=out / 'train' / 'epoch_1.pth')


def test_outputs_agree_with_the_embeddings(trained):
    out, folder = trained['out'], trained['folder']
    paths = (out / 'embeddings_paths.txt').read_text().splitlines()
    assert sorted(paths) == list_image_files(str(folder)).images
    assert len(paths) == NUM_IMAGES + 1
    embeddings = np.load(out / 'embeddings.npy')
    centroids = np.load(out / 'centroids.npy')
    assert embeddings.shape == (len(paths), 128)  # pooled 128-ch stage 4
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1,
                               atol=1e-5)
    rows = read_rows(out / 'assignments.csv')
    assert [row['path'] for row in rows] == paths
    clusters = np.array([int(row['cluster']) for row in rows])
    # k-means: every image in the cluster of its nearest centroid
    distances = ((embeddings[:, None] - centroids[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(clusters, distances.argmin(1))
    directions = unit_rows(centroids)[clusters]
    similarity = np.array([float(row['similarity']) for row in rows])
    np.testing.assert_allclose(similarity,
                               (embeddings * directions).sum(1), atol=1e-5)
    ranks = np.array([int(row['rank']) for row in rows])
    for cluster in np.unique(clusters):
        members = np.flatnonzero(clusters == cluster)
        by_rank = members[np.argsort(ranks[members])]
        np.testing.assert_array_equal(ranks[by_rank],
                                      np.arange(1, len(members) + 1))
        assert np.all(np.diff(similarity[by_rank]) <= 1e-6)
    # the 5 neighbours: brute force cosine, the image itself excluded
    cosine = embeddings @ embeddings.T
    np.fill_diagonal(cosine, -np.inf)
    for index, row in enumerate(rows):
        expected = np.sort(cosine[index])[::-1][:5]
        got = [float(row[f'similarity_{n}']) for n in range(1, 6)]
        np.testing.assert_allclose(got, expected, atol=1e-5)
        neighbours = [paths.index(row[f'neighbour_{n}']) for n in range(1, 6)]
        np.testing.assert_allclose(cosine[index, neighbours], got, atol=1e-5)


def test_duplicates_are_every_pair_above_the_threshold(trained):
    out = trained['out']
    paths = (out / 'embeddings_paths.txt').read_text().splitlines()
    embeddings = np.load(out / 'embeddings.npy')
    cosine = embeddings @ embeddings.T
    threshold = json.loads((out / 'summary.json').read_text())[
        'duplicate_threshold']
    assert threshold == 0.99  # the default
    upper = np.triu(cosine >= threshold, k=1)
    expected = {frozenset((paths[i], paths[j]))
                for i, j in zip(*np.nonzero(upper))}
    rows = read_rows(out / 'duplicates.csv')
    assert {frozenset((r['path_a'], r['path_b'])) for r in rows} == expected
    assert frozenset(('flat/s0_3.png', 'copy_of_s0_3.png')) in expected
    assert float(rows[0]['similarity']) == pytest.approx(1, abs=1e-5)


def test_cluster_folders_link_every_image(trained):
    out, folder = trained['out'], trained['folder']
    rows = read_rows(out / 'assignments.csv')
    sizes = np.bincount([int(row['cluster']) for row in rows])
    linked = {}
    for sub in sorted((out / 'clusters').iterdir()):
        cluster, size = sub.name.split('_')[1:]
        assert int(size[1:]) == sizes[int(cluster)] == len(list(sub.iterdir()))
        for link in sub.iterdir():
            assert link.is_symlink()
            linked[link.resolve()] = int(cluster)
    expected = {(folder / row['path']).resolve(): int(row['cluster'])
                for row in rows}
    assert linked == expected
    by_rank = {row['path']: int(row['rank']) for row in rows}
    first = sorted((out / 'clusters').iterdir())[0]
    for link in first.iterdir():
        rank = int(link.name.split('_')[0])
        path = os.path.relpath(link.resolve(), folder.resolve())
        assert by_rank[path] == rank


class LinkCollector(HTMLParser):
    """The href and src attributes of a page."""

    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        self.links += [value for name, value in attrs
                       if name in ('href', 'src') and value]


def check_report_links(report: Path) -> int:
    """Assert every local link of every page resolves; count the images."""
    images = 0
    for page in report.glob('*.html'):
        collector = LinkCollector()
        collector.feed(page.read_text())
        for link in collector.links:
            assert not urlparse(link).scheme, (page.name, link)
            target = (page.parent / unquote(link)).resolve()
            assert target.exists(), (page.name, link)
            if target.suffix in ('.jpg', '.png') and 'thumbs' in link:
                with Image.open(target) as image:
                    image.verify()
                images += 1
    return images


def screenshot(page: Path, target: Path) -> np.ndarray:
    """Render a page in headless Chromium; the screenshot's pixels."""
    chromium = shutil.which('chromium')
    assert chromium, 'chromium is missing: run tools/install_deps.sh'
    result = subprocess.run(
        [chromium, '--headless', '--no-sandbox', '--disable-gpu',
         '--hide-scrollbars', '--window-size=1000,900',
         f'--screenshot={target}', page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert target.is_file(), result.stderr[-2000:]
    return np.asarray(Image.open(target).convert('L'), dtype=np.float32)


def test_report_opens_in_chromium_with_every_link_resolving(trained,
                                                            tmp_path):
    report = trained['out'] / 'report'
    assert check_report_links(report) > 0
    summary = json.loads((trained['out'] / 'summary.json').read_text())
    cluster = read_rows(trained['out'] / 'assignments.csv')[0]['cluster']
    for name in ('index.html', f'cluster-{int(cluster):05d}.html'):
        pixels = screenshot(report / name, tmp_path / f'{name}.png')
        assert pixels.std() > 10  # not a blank page
        assert (pixels < 128).mean() > 0.01  # text and pictures drawn
    index = (report / 'index.html').read_text()
    assert f'{summary["images"]} embedded' in index
    assert 'map_clusters.png' in index


def test_bad_files_are_listed_and_skipped_or_stop_strict(tool, trained,
                                                         tmp_path):
    folder = tmp_path / 'images'
    shutil.copytree(trained['folder'], folder)
    (folder / 'a' / 'empty.png').write_bytes(b'')
    jpeg = (folder / 'flat' / 's0_0.jpg').read_bytes()
    (folder / 'a' / 'truncated.jpg').write_bytes(jpeg[:len(jpeg) // 2])
    (folder / 'flat' / 'text.jpg').write_text('not an image')
    (folder / 'notes.txt').write_text('not read')
    os.symlink(folder, folder / 'a' / 'loop')
    os.symlink(folder / 'missing.png', folder / 'broken_link.png')
    out = tmp_path / 'out'
    result = run_tool(tool, str(folder), '--work-dir', str(out),
                      '--checkpoint', str(trained['checkpoint']), '--k', '4',
                      '--num-workers', '1', '--map-points', '100')
    bad = {row['path']: row['reason']
           for row in read_rows(out / 'unreadable.csv')}
    assert set(bad) == {'a/empty.png', 'a/truncated.jpg', 'flat/text.jpg',
                        'broken_link.png', 'a/loop'}
    assert 'empty file' in bad['a/empty.png']
    assert 'truncated' in bad['a/truncated.jpg']
    assert 'not an image' in bad['flat/text.jpg']
    assert 'No such file' in bad['broken_link.png']
    assert 'link loop' in bad['a/loop']
    for path in bad:
        assert f'skipped {path}' in result.stdout + result.stderr
    rows = read_rows(out / 'assignments.csv')
    assert len(rows) == NUM_IMAGES + 1  # every readable image, no other
    assert (out / 'other_files.txt').read_text() == 'notes.txt\n'
    page = (out / 'report' / 'unreadable.html').read_text()
    assert '5 files could not be read' in page
    assert all(path in page for path in bad)
    strict = run_tool(tool, str(folder), '--work-dir',
                      str(tmp_path / 'strict'), '--checkpoint',
                      str(trained['checkpoint']), '--strict',
                      '--num-workers', '0', check=False)
    assert strict.returncode != 0
    assert 'empty.png: empty file' in strict.stderr
    # training stops with the path: at the link loop, then at a bad file
    for expected in ('symbolic links that lead back to a folder above '
                     'them (a/loop)', 'UnreadableImageError: '):
        training = run_tool(
            tool, str(folder), '--work-dir', str(tmp_path / 'train'),
            '--train', FOLDER_CONFIG, '--cfg-options', *TRAIN_OPTIONS,
            check=False)
        assert training.returncode != 0
        assert expected in training.stderr
        (folder / 'a' / 'loop').unlink(missing_ok=True)
    assert f'{folder}/' in training.stderr.split('UnreadableImageError: ')[1]
    assert 'remove or replace the file' in training.stderr


def write_fashion_mnist(folder: Path, count: int) -> Path:
    """The first ``count`` Fashion-MNIST test images as PNG files, and a
    labels CSV."""
    from mmodc.datasets.fashion_mnist import read_idx
    images = read_idx(f'{FASHION_MNIST}/t10k-images-idx3-ubyte.gz',
                      'images')[:count]
    labels = read_idx(f'{FASHION_MNIST}/t10k-labels-idx1-ubyte.gz',
                      'labels')[:count]
    lines = ['path,label']
    for index, (image, label) in enumerate(zip(images, labels)):
        path = f'class_free/{index % 7}/{index:05d}.png'
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / path)
        lines.append(f'{path},item{label}')
    labels_csv = folder.parent / 'labels.csv'
    labels_csv.write_text('\n'.join(lines) + '\n')
    return labels_csv


def test_fashion_mnist_images_with_labels(tool, tmp_path):
    """A quickstart checkpoint (initial weights, config in meta.cfg as the
    Runner saves it) on 300 Fashion-MNIST PNGs: the metrics in the summary
    are those of assignments.csv against the labels."""
    from mmengine.config import Config

    from mmodc.apis import init_model
    folder = tmp_path / 'fashion'
    labels_csv = write_fashion_mnist(folder, 300)
    cfg = Config.fromfile(QUICKSTART)
    model = init_model(cfg)
    checkpoint = tmp_path / 'quickstart.pth'
    torch.save(dict(meta=dict(cfg=cfg.pretty_text),
                    state_dict=model.state_dict()), checkpoint)
    out = tmp_path / 'out'
    result = run_tool(tool, str(folder), '--work-dir', str(out),
                      '--checkpoint', str(checkpoint), '--labels',
                      str(labels_csv), '--k', '10', '--feature', 'neck',
                      '--num-workers', '0',
                      '--map-points', '200')
    rows = read_rows(out / 'assignments.csv')
    labels = {r['path']: r['label'] for r in read_rows(labels_csv)}
    names = sorted(set(labels.values()))
    truth = [names.index(labels[row['path']]) for row in rows]
    clusters = [int(row['cluster']) for row in rows]
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['labelled_images'] == 300
    expected = clustering_scores(truth, clusters)
    for key, value in expected.items():
        assert summary['metrics'][key] == pytest.approx(value)
        assert f'{key}: {value:.4f}' in result.stdout
    assert np.load(out / 'embeddings.npy').shape == (300, 128)  # the neck
    report = out / 'report'
    for figure in ('map_labels.png', 'confusion.png'):
        assert figure in (report / 'index.html').read_text()
        assert Image.open(report / figure).size[0] > 300
    check_report_links(report)


def test_bad_folders_and_options_are_clear_errors(tool, trained, tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'readme.txt').write_text('no images here')
    ckpt = str(trained['checkpoint'])
    result = run_tool(tool, str(empty), '--work-dir', str(tmp_path / 'o1'),
                      '--checkpoint', ckpt, check=False)
    assert 'holds no images (1 other files, e.g. readme.txt)' in \
        result.stderr
    few = tmp_path / 'few'
    write_images(few, 3, seed=2)
    result = run_tool(tool, str(few), '--work-dir', str(tmp_path / 'o2'),
                      '--checkpoint', ckpt, '--k', '5', '--num-workers', '0',
                      check=False)
    assert '--k 5 is more clusters than the 3 readable images' in \
        result.stderr
    labels = tmp_path / 'labels.csv'
    labels.write_text('path,label\nflat/s2_0.jpg,a\nnot/there.png,b\n')
    result = run_tool(tool, str(few), '--work-dir', str(tmp_path / 'o3'),
                      '--checkpoint', ckpt, '--k', '2', '--labels',
                      str(labels), check=False)
    assert "line 3: 'not/there.png' is not an image of the folder" in \
        result.stderr
    result = run_tool(tool, str(few), '--work-dir', str(few / 'out'),
                      '--checkpoint', ckpt, check=False)
    assert 'is inside the image folder' in result.stderr
    result = run_tool(tool, str(few), '--work-dir', str(tmp_path / 'o4'),
                      check=False)
    assert result.returncode == 2
    assert 'one of the arguments --checkpoint --train is required' in \
        result.stderr


def test_neighbour_functions_match_brute_force():
    rng = np.random.default_rng(0)
    embeddings = unit_rows(rng.normal(size=(300, 8)))
    embeddings[7] = embeddings[3]  # an exact duplicate
    indices, similarities = nearest_neighbours(embeddings, 4)
    cosine = embeddings @ embeddings.T
    np.fill_diagonal(cosine, -np.inf)
    np.testing.assert_allclose(similarities,
                               -np.sort(-cosine, axis=1)[:, :4], atol=1e-5)
    assert indices[3, 0] == 7 and indices[7, 0] == 3
    assert not (indices == np.arange(300)[:, None]).any()
    pairs, scores = similar_pairs(embeddings, 0.7)
    upper = np.triu(cosine >= 0.7, k=1)
    assert {tuple(p) for p in pairs.tolist()} == set(zip(*np.nonzero(upper)))
    assert np.all(np.diff(scores) <= 0) and tuple(pairs[0]) == (3, 7)
    labels = rng.integers(0, 5, 300)
    values = rng.random(300)
    ranks = ranks_within_clusters(labels, values)
    for label in range(5):
        members = np.flatnonzero(labels == label)
        np.testing.assert_array_equal(
            ranks[members], np.argsort(np.argsort(-values[members])))


def test_decoding_refuses_what_opencv_would_half_read(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3),
                                              dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / 'whole.jpg', quality=95)
    data = (tmp_path / 'whole.jpg').read_bytes()
    (tmp_path / 'half.jpg').write_bytes(data[:len(data) // 2])
    assert decode_image(str(tmp_path / 'whole.jpg')).shape == (64, 64, 3)
    assert decode_image(str(tmp_path / 'whole.jpg'),
                        'grayscale').shape == (64, 64)
    with pytest.raises(OSError, match='truncated'):
        decode_image(str(tmp_path / 'half.jpg'))
    loader = CheckedLoadImageFromFile()
    with pytest.raises(UnreadableImageError,
                       match=r'half.jpg: truncated .*remove or replace'):
        loader(dict(img_path=str(tmp_path / 'half.jpg')))
    assert loader(dict(img_path=str(tmp_path / 'whole.jpg')))['img'].shape \
        == (64, 64, 3)


def test_batch_norm_calibration_on_the_folder(tmp_path):
    """--calibrate-bn-batches: the running statistics become those of the
    folder's images (one batch of all 300 here: its exact mean), and the
    model is left in eval mode."""
    from mmodc.analysis.cluster_images import (
        calibrate_batch_norms,
        folder_loader,
    )
    from mmodc.apis import init_model
    folder = tmp_path / 'fashion'
    write_fashion_mnist(folder, 300)
    model = init_model(QUICKSTART)
    listing = list_image_files(str(folder))
    norm = model.backbone.norm1
    assert torch.equal(norm.running_mean, torch.zeros_like(norm.running_mean))
    calibrate_batch_norms(model, listing, num_batches=2, batch_size=300,
                          num_workers=0)
    assert not model.training
    batch, indices, errors = next(iter(
        folder_loader(model, listing, 300, 0)))
    assert len(indices) == 300 and not errors
    with torch.no_grad():
        inputs = model.data_preprocessor(batch, False)['inputs']
        expected = model.backbone.conv1(inputs).mean(dim=(0, 2, 3))
    # float32 means of 58,800 values each, summed in another order by the
    # BatchNorm kernel (which depends on the thread count): up to 2e-5 apart
    torch.testing.assert_close(norm.running_mean, expected, rtol=1e-4,
                               atol=1e-4)


def test_clusters_from_the_odc_memory(tool, trained, tmp_path):
    """--clusters memory: every image gets the pseudo-label that the
    trained memory holds for its training index; centroids are the mean
    embeddings. Another folder is refused."""
    from mmengine.config import Config
    from mmengine.registry import DATASETS, init_default_scope
    checkpoint = torch.load(trained['checkpoint'], map_location='cpu',
                            weights_only=False)
    label_bank = checkpoint['state_dict']['memory_bank.label_bank'].numpy()
    cfg = Config.fromstring(checkpoint['meta']['cfg'], '.py')
    init_default_scope('mmodc')
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, pipeline=[]))
    expected = {
        os.path.relpath(dataset.get_data_info(i)['img_path'],
                        trained['folder']): int(label_bank[i])
        for i in range(len(dataset))
    }
    out = tmp_path / 'out'
    result = run_tool(tool, str(trained['folder']), '--work-dir', str(out),
                      '--checkpoint', str(trained['checkpoint']),
                      '--clusters', 'memory', '--num-workers', '0',
                      '--map-points', '100')
    rows = read_rows(out / 'assignments.csv')
    assert {row['path']: int(row['cluster']) for row in rows} == expected
    embeddings = np.load(out / 'embeddings.npy')
    centroids = np.load(out / 'centroids.npy')
    clusters = np.array([int(row['cluster']) for row in rows])
    assert len(centroids) == 10  # the memory's K (auto: 201 images -> 10)
    for cluster in np.unique(clusters):
        np.testing.assert_allclose(
            centroids[cluster], embeddings[clusters == cluster].mean(0),
            atol=1e-5)
    assert 'pseudo-labels of the ODC memory' in (
        out / 'report' / 'index.html').read_text()
    assert 'images in 10 clusters' in result.stdout
    other = tmp_path / 'other'
    write_images(other, 20, seed=4)
    refused = run_tool(tool, str(other), '--work-dir', str(tmp_path / 'o'),
                       '--checkpoint', str(trained['checkpoint']),
                       '--clusters', 'memory', check=False)
    assert 'was trained on' in refused.stderr
    assert 'cluster with k-means instead' in refused.stderr


def test_clusters_from_the_deepcluster_head(tool, tmp_path):
    """--train a DeepCluster image-folder config, then --clusters head:
    every image's cluster is the class that inference_model gives it
    alone, K is the head's, centroids are the mean embeddings."""
    from mmodc.analysis.cluster_images import load_embedding_model
    from mmodc.apis import inference_model
    folder = tmp_path / 'images'
    write_images(folder, 120, seed=5)
    out = tmp_path / 'out'
    config = os.path.join(
        REPO, 'configs', 'selfsup', 'deepcluster',
        'deepcluster_resnet18-w16_1xb256-steplr-8e_image-folder.py')
    result = run_tool(
        tool, str(folder), '--work-dir', str(out), '--train', config,
        '--clusters', 'head', '--num-workers', '0', '--map-points', '60',
        '--cfg-options', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=32', 'train_dataloader.num_workers=0',
        'custom_hooks.0.extract_dataloader.num_workers=0',
        'custom_hooks.2.dataloader.num_workers=0')
    model = load_embedding_model(str(out / 'train' / 'epoch_1.pth'))
    rows = read_rows(out / 'assignments.csv')
    assert len(rows) == 120
    expected = [int(inference_model(model, str(folder / row['path']))
                    ['cluster']) for row in rows]
    clusters = np.array([int(row['cluster']) for row in rows])
    assert clusters.tolist() == expected
    centroids = np.load(out / 'centroids.npy')
    assert len(centroids) == model.head.num_classes == 10
    embeddings = np.load(out / 'embeddings.npy')
    for cluster in np.unique(clusters):
        np.testing.assert_allclose(
            centroids[cluster], embeddings[clusters == cluster].mean(0),
            atol=1e-5)
    assert 'classes predicted by the cluster head' in (
        out / 'report' / 'index.html').read_text()
    assert f'images in {len(centroids)} clusters' in result.stdout
    refused = run_tool(tool, str(folder), '--work-dir', str(tmp_path / 'o'),
                       '--checkpoint', str(out / 'train' / 'epoch_1.pth'),
                       '--clusters', 'head', '--k', '3', check=False)
    assert refused.returncode != 0
    assert '--clusters head uses its own number of clusters' in (
        refused.stderr)


def test_checkpoint_by_url_with_and_without_a_config(tmp_path,
                                                      monkeypatch):
    """A URL (served on 127.0.0.1; weights only, so no saved config):
    with --config it is downloaded and loaded; without, the tool looks for
    the zoo entry with those weights and says to pass --config when none
    has them; a zoo entry with those weights loads by its name and gives
    its config to the bare URL."""
    import hashlib

    from http_files import serve_files

    from mmodc.analysis.cluster_images import load_embedding_model
    from mmodc.apis import init_model
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    model = init_model(QUICKSTART)
    with torch.no_grad():
        model.head.fc_cls.weight.normal_()
    path = tmp_path / 'odc.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    name = f'odc_quickstart-{digest}.pth'
    with serve_files({'/' + name: path.read_bytes()}) as url:
        loaded = load_embedding_model(f'{url}/{name}', QUICKSTART)
        with pytest.raises(ValueError, match='weights of no mmodc model-zoo '
                           'entry.*pass --config'):
            load_embedding_model(f'{url}/{name}')
        by_zoo = zoo_loaded(tmp_path, monkeypatch, f'{url}/{name}')
    for other in (loaded, *by_zoo):
        assert torch.equal(other.head.fc_cls.weight, model.head.fc_cls.weight)
    assert list((tmp_path / 'torch_home').rglob(name))  # downloaded there


def zoo_loaded(tmp_path, monkeypatch, url: str) -> list:
    """The model loaded by its model-zoo name, and by its URL without a
    config, from an index whose entry has the weights ``url``."""
    from mmodc.analysis.cluster_images import load_embedding_model
    from mmodc.apis import model_hub
    name = Path(QUICKSTART).stem
    index = tmp_path / 'index' / 'model-index.yml'
    write_index(index, name, url)
    monkeypatch.setattr(model_hub, 'model_index_path', lambda: index)
    model_hub._models_by_name.cache_clear()
    try:
        return [load_embedding_model(name), load_embedding_model(url)]
    finally:
        model_hub._models_by_name.cache_clear()
