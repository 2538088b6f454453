"""Installing mmodc: ``pip install .`` and ``pip install -e .`` into fresh
virtual environments, the ``.mim`` resources where ``mim`` looks for them,
and from another directory ``mim train``, ``mim test``, ``mim run``,
``mim search`` and ``mim download`` of ``mmodc``.

The venvs see this machine's packages (``--system-site-packages``, no pip
of their own, so the machine's pip and setuptools build) and mmodc is
installed with ``--no-deps --no-build-isolation``: nothing is downloaded
but the weights a local HTTP server (127.0.0.1) serves for the copied
source tree's own model. Per kind of install, one ``mim train`` makes the
checkpoint the later tests use. The tests that change the source tree after
installing name their files after the kind of install.
"""
import datetime
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
import torch
import yaml
from http_files import serve_files
from mmengine.config import Config
from tiny_setup import (
    FOLDER_TRAIN_OPTIONS,
    REPO_ROOT,
    clean_env,
    make_image_folder,
    python_of,
    read_model_index,
    tiny_config,
    write_config,
    write_images,
)

from mmodc.registry import MODELS

pytestmark = pytest.mark.slow

KINDS = ('regular', 'editable')
# a config only the copied source tree has, to find by file name
TINY_CONFIG = 'configs/packaging_test/mmodc_packaging_test_tiny.py'
TINY_MODEL = Path(TINY_CONFIG).stem
# its entry in the copied tree's model index, with served weights
TINY_METAFILE = 'configs/packaging_test/metafile.yml'
# a model of the zoo without published weights
UNPUBLISHED_MODEL = 'odc_resnet18-w16_1xb256-steplr-8e_fashionmnist'
_NOT_SOURCE = ('.git', 'build', 'dist', '*.egg-info', 'work_dirs', 'data',
               '__pycache__', '.mim', '.pytest_cache', '.ruff_cache')


def _run(cmd: List[str],
         cwd: Path,
         timeout: int = 300,
         check: bool = True,
         **env: str) -> subprocess.CompletedProcess:
    """Run a command; with ``check``, fail the test with its output if it
    fails."""
    result = subprocess.run(
        cmd,
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout)
    assert result.returncode == 0 or not check, (
        f'{cmd} exited {result.returncode}\n{result.stdout[-4000:]}\n'
        f'{result.stderr[-4000:]}')
    return result


def _mim(installed: Dict[str, object],
         *args: str,
         cwd: Path,
         check: bool = True) -> subprocess.CompletedProcess:
    """``mim ARGS`` with the venv's Python, on the CPU, one OpenMP thread
    (nothing here depends on the thread count; on a small shared machine
    spinning threads make small tensor work many times slower)."""
    return _run([installed['python'], '-m', 'mim', *args],
                cwd=cwd,
                check=check,
                CUDA_VISIBLE_DEVICES='',
                OMP_NUM_THREADS='1')


def _install(python: str, kind: str, source: Path) -> None:
    """``pip install [-e] SOURCE`` into the venv of ``python``."""
    target = ['-e', str(source)] if kind == 'editable' else [str(source)]
    pip = [python, '-m', 'pip', 'install', '--no-deps', '--no-build-isolation']
    _run([*pip, '--no-index', '-q', *target], cwd=Path(python).parent)


def _files(root: Path) -> List[str]:
    """Relative paths of the files under root (following links), no caches.
    """
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob('*')
        if p.is_file() and '__pycache__' not in p.parts)


@pytest.fixture(scope='module')
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny config's image folder."""
    return make_image_folder(tmp_path_factory.mktemp('images'))


@pytest.fixture(scope='module')
def published(images: Path) -> Iterator[Dict[str, object]]:
    """Weights of the tiny config's model as a release names them,
    ``<model>_<YYYYMMDD>-<sha256[:8]>.pth``, served on 127.0.0.1.

    Yields:
        dict: ``url`` and ``content`` (the file's bytes).
    """
    model = MODELS.build(tiny_config(images)['model'])
    buffer = io.BytesIO()
    torch.save(
        dict(meta=dict(note='mmodc packaging test'),
             state_dict=model.state_dict()), buffer)
    content = buffer.getvalue()
    name = (f'{TINY_MODEL}_{datetime.date.today():%Y%m%d}-'
            f'{hashlib.sha256(content).hexdigest()[:8]}.pth')
    with serve_files({f'/weights/{name}': content}) as base_url:
        yield dict(url=f'{base_url}/weights/{name}', content=content)


@pytest.fixture(scope='module')
def source(tmp_path_factory: pytest.TempPathFactory, images: Path,
           published: Dict[str, object]) -> Path:
    """A copy of the checkout (no build outputs) plus the tiny config (with
    a test split) and its model-index entry, whose weights are served."""
    root = tmp_path_factory.mktemp('src') / 'mmodc-src'
    shutil.copytree(
        REPO_ROOT, root, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
    config = root / TINY_CONFIG
    config.parent.mkdir(parents=True)
    write_config(tiny_config(images, with_test=True), config)
    entry = {
        'Name': TINY_MODEL,
        'In Collection': 'ODC',
        'Metadata': {'Epochs': 1, 'Batch Size': 2},
        'Config': TINY_CONFIG,
        'Weights': published['url'],
    }
    (root / TINY_METAFILE).write_text(yaml.safe_dump(dict(Models=[entry])))
    index_path = root / 'model-index.yml'
    index = yaml.safe_load(index_path.read_text())
    index['Import'].append(TINY_METAFILE)
    index_path.write_text(yaml.safe_dump(index))
    return root


@pytest.fixture(scope='module', params=KINDS)
def installed(request: pytest.FixtureRequest, source: Path,
              tmp_path_factory: pytest.TempPathFactory) -> Dict[str, object]:
    """mmodc installed into a fresh venv, regular or editable.

    Returns:
        dict: ``kind``, ``python`` (the venv's), ``pkg_root`` (where mim
        resolves the package, i.e. ``<pkg_root>/.mim/tools/train.py``).
    """
    kind = request.param
    venv = tmp_path_factory.mktemp(f'venv-{kind}') / 'venv'
    _run([
        sys.executable, '-m', 'venv', '--system-site-packages',
        '--without-pip',
        str(venv)
    ], cwd=venv.parent)
    python = python_of(venv)
    _install(python, kind, source)
    # mim's own lookup, as `mim train` does it
    lookup = _run([
        python, '-W', 'ignore', '-c',
        'from mim.utils import get_installed_path; '
        "print(get_installed_path('mmodc'))"
    ], cwd=venv.parent)
    return dict(
        kind=kind,
        python=python,
        pkg_root=Path(lookup.stdout.strip().splitlines()[-1]))


def test_sdist_has_what_setup_py_reads(source: Path, tmp_path: Path) -> None:
    """The sdist carries requirements, tools, configs and model-index.yml
    (a wheel built from it needs them)."""
    _run([
        sys.executable, 'setup.py', '-q', 'sdist', '--dist-dir',
        str(tmp_path)
    ], cwd=source)
    (tarball, ) = tmp_path.glob('mmodc-*.tar.gz')
    with tarfile.open(tarball) as tar:
        names = {
            name.split('/', 1)[1]
            for name in tar.getnames() if '/' in name
        }
    for path in ('setup.py', 'requirements.txt', 'requirements/runtime.txt',
                 'requirements/mim.txt', 'tools/train.py', 'tools/test.py',
                 'tools/dist_train.sh', 'model-index.yml', TINY_CONFIG,
                 'mmodc/__init__.py'):
        assert path in names


def test_mim_resources(installed: Dict[str, object], source: Path) -> None:
    """``<pkg_root>/.mim`` has every tool, every config and model-index.yml.
    """
    mim_dir = installed['pkg_root'] / '.mim'
    files = set(_files(mim_dir))
    assert 'model-index.yml' in files
    for name in ('tools', 'configs'):
        expected = {f'{name}/{rel}' for rel in _files(source / name)}
        assert expected <= files, sorted(expected - files)
    assert TINY_CONFIG in files
    assert 'tools/train.py' in files and 'tools/test.py' in files
    assert (mim_dir / 'tools' / 'dist_train.sh').stat().st_mode & 0o111


def test_imports_right_package(installed: Dict[str, object], source: Path,
                               tmp_path: Path) -> None:
    """The venv imports the installed package (regular: every module of
    the source tree is in it) or the source tree (editable)."""
    result = _run([
        installed['python'], '-W', 'ignore', '-c',
        'import mmodc; print(mmodc.__file__)'
    ], cwd=tmp_path)
    package_dir = Path(result.stdout.strip().splitlines()[-1]).parent
    if installed['kind'] == 'editable':
        assert package_dir == source / 'mmodc'
    else:
        assert package_dir == installed['pkg_root']
        source_modules = {
            p for p in _files(source / 'mmodc') if p.endswith('.py')
        }
        assert source_modules <= set(_files(package_dir))


@pytest.fixture(scope='module')
def trained(installed: Dict[str, object], source: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Dict[str, object]:
    """``mim train mmodc <tiny config file name>`` from an unrelated
    directory, once per kind of install. For an editable install the source
    tree's config is edited first (after installing).

    Returns:
        dict: ``stdout`` of mim and the ``work_dir``.
    """
    if installed['kind'] == 'editable':
        config = source / TINY_CONFIG
        config.write_text(config.read_text() +
                          "marker = 'edited after install'\n")
    cwd = tmp_path_factory.mktemp(f'train-{installed["kind"]}')
    work_dir = cwd / 'work'
    result = _mim(
        installed,
        'train',
        'mmodc',
        Path(TINY_CONFIG).name,
        '--work-dir',
        str(work_dir),
        cwd=cwd)
    return dict(stdout=result.stdout, work_dir=work_dir)


def test_mim_train_from_elsewhere(installed: Dict[str, object],
                                  trained: Dict[str, object]) -> None:
    """mim finds the config by name and tools/train.py in the installed
    package, and the config's types resolve through the ``mmodc`` scope. An
    editable install runs the source tree's current config."""
    train_py = installed['pkg_root'] / '.mim' / 'tools' / 'train.py'
    assert f'Training command is {installed["python"]} {train_py}' in \
        trained['stdout']
    assert (trained['work_dir'] / 'epoch_1.pth').is_file()
    dumped = (trained['work_dir'] / Path(TINY_CONFIG).name).read_text()
    assert "default_scope = 'mmodc'" in dumped
    if installed['kind'] == 'editable':
        assert 'edited after install' in dumped


def test_mim_test(installed: Dict[str, object], trained: Dict[str, object],
                  tmp_path: Path) -> None:
    """``mim test mmodc <config name> --checkpoint <epoch_1.pth>`` runs the
    installed tools/test.py, which evaluates the checkpoint on the config's
    test split."""
    metrics = tmp_path / 'metrics.json'
    result = _mim(
        installed,
        'test',
        'mmodc',
        Path(TINY_CONFIG).name,
        '--checkpoint',
        str(trained['work_dir'] / 'epoch_1.pth'),
        '--work-dir',
        str(tmp_path / 'work'),
        '--out',
        str(metrics),
        '--out-item',
        'metrics',
        cwd=tmp_path)
    test_py = installed['pkg_root'] / '.mim' / 'tools' / 'test.py'
    assert f'Testing command is {installed["python"]} {test_py}' in \
        result.stdout
    assert 0 <= json.loads(metrics.read_text())['accuracy/top1'] <= 100


def test_mim_run_extract_backbone_weights(installed: Dict[str, object],
                                          trained: Dict[str, object],
                                          tmp_path: Path) -> None:
    """``mim run mmodc extract_backbone_weights CKPT OUT`` runs the
    installed tools/model_converters script: OUT holds exactly the
    checkpoint's ``backbone.*`` tensors without the prefix."""
    checkpoint = trained['work_dir'] / 'epoch_1.pth'
    output = tmp_path / 'backbone.pth'
    result = _mim(
        installed,
        'run',
        'mmodc',
        'extract_backbone_weights',
        str(checkpoint),
        str(output),
        cwd=tmp_path)
    script = (installed['pkg_root'] / '.mim' / 'tools' / 'model_converters' /
              'extract_backbone_weights.py')
    assert f'Use the script {script}' in result.stdout
    model = torch.load(checkpoint, map_location='cpu',
                       weights_only=False)['state_dict']
    expected = {
        key[len('backbone.'):]: value
        for key, value in model.items() if key.startswith('backbone.')
    }
    extracted = torch.load(output, map_location='cpu', weights_only=True)
    assert 'meta' in extracted
    assert extracted['state_dict'].keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(extracted['state_dict'][key], value), key


def test_mim_run_cluster_images(installed: Dict[str, object],
                                tmp_path: Path) -> None:
    """``mim run mmodc cluster_images FOLDER --train <installed image-folder
    config>`` from another directory: the installed tool trains one epoch
    on 120 images and clusters them (one assignment row per image, the
    report written)."""
    folder = tmp_path / 'images'
    write_images(folder, 120, seed=3)
    config = (installed['pkg_root'] / '.mim' / 'configs' / 'selfsup' /
              'odc' / 'odc_resnet18-w16_1xb256-steplr-8e_image-folder.py')
    out = tmp_path / 'out'
    result = _mim(installed, 'run', 'mmodc', 'cluster_images', str(folder),
                  '--work-dir', str(out), '--train', str(config), '--k', '4',
                  '--num-workers', '0', '--map-points', '60',
                  '--cfg-options', *FOLDER_TRAIN_OPTIONS, cwd=tmp_path)
    script = installed['pkg_root'] / '.mim' / 'tools' / 'cluster_images.py'
    assert f'Use the script {script}' in result.stdout
    assert '120 images in 4 clusters, 0 unreadable' in result.stdout
    rows = (out / 'assignments.csv').read_text().splitlines()
    assert len(rows) == 1 + 120
    assert (out / 'report' / 'index.html').is_file()


def test_mim_search_lists_every_model(installed: Dict[str, object],
                                      source: Path, tmp_path: Path) -> None:
    """``mim search mmodc`` lists every model of the metafiles (the zoo's
    and the copied tree's tiny one)."""
    result = _mim(installed, 'search', 'mmodc', cwd=tmp_path)
    listed = re.findall(r'config id: (\S+)', result.stdout)
    expected = list(read_model_index(source))
    assert TINY_MODEL in expected and UNPUBLISHED_MODEL in expected
    assert sorted(listed) == sorted(expected)


def test_mim_download(installed: Dict[str, object],
                      published: Dict[str, object], tmp_path: Path) -> None:
    """``mim download mmodc --config <name> --dest DIR`` fetches the
    model's weights (byte for byte what the server has) and dumps the
    installed package's config of the model."""
    dest = tmp_path / 'dest'
    _mim(
        installed,
        'download',
        'mmodc',
        '--config',
        TINY_MODEL,
        '--dest',
        str(dest),
        cwd=tmp_path)
    file_name = published['url'].rsplit('/', 1)[-1]
    assert (dest / file_name).read_bytes() == published['content']
    dumped = Config.fromfile(dest / f'{TINY_MODEL}.py')
    installed_config = Config.fromfile(installed['pkg_root'] / '.mim' /
                                       TINY_CONFIG)
    assert dumped.to_dict() == installed_config.to_dict()
    assert dumped.model.backbone.type == 'ResNet'


def test_python_api_uses_the_installed_index(installed: Dict[str, object],
                                            published: Dict[str, object],
                                            tmp_path: Path) -> None:
    """``mmodc.apis`` in the venv reads the installed package's model index
    (regular: ``<pkg_root>/.mim``) and ``get_model(name, pretrained=True)``
    downloads, verifies and loads the published weights."""
    loaded = tmp_path / 'loaded.pth'
    result = _run([
        installed['python'], '-W', 'ignore', '-c',
        'import sys, torch; '
        'from mmodc.apis import get_model, list_models, model_index_path; '
        f'model = get_model({TINY_MODEL!r}, pretrained=True, '
        f'cache_dir={str(tmp_path / "cache")!r}); '
        f'torch.save(model.state_dict(), {str(loaded)!r}); '
        'print(model_index_path()); '
        f'print({TINY_MODEL!r} in list_models(with_weights=True))'
    ], cwd=tmp_path)
    index_path, listed = result.stdout.strip().splitlines()[-2:]
    if installed['kind'] == 'regular':
        assert Path(index_path) == (installed['pkg_root'] / '.mim' /
                                    'model-index.yml')
    assert listed == 'True'
    published_state = torch.load(
        io.BytesIO(published['content']), weights_only=True)['state_dict']
    state = torch.load(loaded, weights_only=True)
    assert state.keys() == published_state.keys()
    for key, value in published_state.items():
        assert torch.equal(state[key], value), key


def test_mim_download_without_weights(installed: Dict[str, object],
                                      tmp_path: Path) -> None:
    """A model without published weights (mmodc's Fashion-MNIST ones) is
    refused by mim 0.3.9, before anything is written: its
    ``_download_configs`` splits the missing weights (NaN in mim's table)
    and raises ``AttributeError``. Such a model is trained instead
    (``mim train mmodc <name>.py``); the README says so."""
    dest = tmp_path / 'dest'
    result = _mim(
        installed,
        'download',
        'mmodc',
        '--config',
        UNPUBLISHED_MODEL,
        '--dest',
        str(dest),
        cwd=tmp_path,
        check=False)
    assert result.returncode != 0
    assert "'float' object has no attribute 'split'" in result.stderr
    assert list(dest.iterdir()) == []


def test_mim_search_after_metafile_edit(installed: Dict[str, object],
                                        source: Path, tmp_path: Path) -> None:
    """A model added to a metafile after installing: ``mim search`` lists
    it with an editable install (its ``.mim/model-index.yml`` imports the
    source tree's), not with a regular one (a copy of install time)."""
    name = f'mmodc_packaging_test_added_{installed["kind"]}'
    metafile = source / TINY_METAFILE
    entries = yaml.safe_load(metafile.read_text())
    entries['Models'].append(
        {'Name': name, 'In Collection': 'ODC', 'Config': TINY_CONFIG})
    metafile.write_text(yaml.safe_dump(entries))
    result = _mim(installed, 'search', 'mmodc', cwd=tmp_path)
    listed = re.findall(r'config id: (\S+)', result.stdout)
    assert (name in listed) == (installed['kind'] == 'editable')


def test_config_added_after_install(installed: Dict[str, object],
                                    trained: Dict[str, object], source: Path,
                                    tmp_path: Path) -> None:
    """A config created in the source tree after installing is not found
    by name, with an editable install either: ``<pkg_root>/.mim/configs``
    holds the file names of install time (a wheel cannot link to the source
    tree). mim says it cannot find the config; once the package is
    installed again, it can."""
    added = (source / 'configs' / 'packaging_test' /
             f'mmodc_packaging_test_added_{installed["kind"]}.py')
    shutil.copy(source / TINY_CONFIG, added)
    command = [
        'test', 'mmodc', added.name, '--checkpoint',
        str(trained['work_dir'] / 'epoch_1.pth'), '--work-dir',
        str(tmp_path / 'work')
    ]
    missing = _mim(installed, *command, cwd=tmp_path, check=False)
    assert missing.returncode != 0
    assert (f"The path {added.name} doesn't exist and we can not find the "
            'config file in codebase mmodc') in missing.stderr
    _install(installed['python'], installed['kind'], source)
    found = _mim(installed, *command, cwd=tmp_path)
    in_mim = installed['pkg_root'] / '.mim' / 'configs' / added.relative_to(
        source / 'configs')
    assert f'will use {in_mim} instead' in found.stdout


def test_mim_train_quickstart(installed: Dict[str, object],
                              tmp_path: Path) -> None:
    """The Fashion-MNIST quickstart config, found by name, trains through
    ``mim train mmodc`` (shrunk to 200 images and 4 iterations; the
    monitor's kNN bank and queries and the BatchNorm calibration to 200
    images each)."""
    quickstart = (REPO_ROOT / 'configs' / 'selfsup' / 'odc' /
                  'odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py')
    shrink = [
        'model.memory_bank.length=200', 'model.memory_bank.num_classes=10',
        'model.memory_bank.min_cluster=5', 'model.head.num_classes=10',
        'custom_hooks.0.clustering.k=10', 'train_cfg.max_epochs=1',
        'train_dataloader.dataset.indices=200',
        'train_dataloader.batch_size=50', 'train_dataloader.num_workers=0',
        'custom_hooks.0.extract_dataloader.dataset.indices=200',
        'custom_hooks.0.extract_dataloader.num_workers=0',
        'custom_hooks.2.bank_dataloader.dataset.index_range=(0,200)',
        'custom_hooks.2.query_dataloader.dataset.index_range=(200,400)',
        'custom_hooks.4.dataloader.dataset.indices=200',
        'custom_hooks.4.dataloader.batch_size=50'
    ]
    work_dir = tmp_path / 'work'
    _mim(installed, 'train', 'mmodc', quickstart.name, '--work-dir',
         str(work_dir), '--cfg-options', *shrink, cwd=tmp_path)
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'Epoch(train) [1][4/4]' in log
    assert 'DeepClusterHook: k-means with k=10 on 200 x' in log
    assert 'FeatureMonitorHook: epoch 1, iteration 4' in log
    assert (work_dir / 'epoch_1.pth').is_file()
