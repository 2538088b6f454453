"""Installing mmodc: ``pip install .`` and ``pip install -e .`` into fresh
virtual environments, the ``.mim`` resources where ``mim`` looks for them,
and ``mim train mmodc CONFIG`` from another directory.

The venvs see this machine's packages (``--system-site-packages``, no pip
of their own, so the machine's pip and setuptools build) and mmodc is
installed with ``--no-deps --no-build-isolation``: nothing is downloaded.
"""
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict, List

import pytest
from tiny_setup import (
    REPO_ROOT,
    clean_env,
    make_image_folder,
    python_of,
    tiny_config,
    write_config,
)

pytestmark = pytest.mark.slow

KINDS = ('regular', 'editable')
# a config only the copied source tree has, to find by file name
TINY_CONFIG = 'configs/packaging_test/mmodc_packaging_test_tiny.py'
_NOT_SOURCE = ('.git', 'build', 'dist', '*.egg-info', 'work_dirs', 'data',
               '__pycache__', '.mim', '.pytest_cache', '.ruff_cache')


def _run(cmd: List[str], cwd: Path, timeout: int = 300,
         **env: str) -> subprocess.CompletedProcess:
    """Run a command, failing the test with its output if it fails."""
    result = subprocess.run(
        cmd,
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout)
    assert result.returncode == 0, (
        f'{cmd} exited {result.returncode}\n{result.stdout[-4000:]}\n'
        f'{result.stderr[-4000:]}')
    return result


def _files(root: Path) -> List[str]:
    """Relative paths of the files under root (following links), no caches.
    """
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob('*')
        if p.is_file() and '__pycache__' not in p.parts)


@pytest.fixture(scope='module')
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout (no build outputs) plus the tiny config."""
    root = tmp_path_factory.mktemp('src') / 'mmodc-src'
    shutil.copytree(
        REPO_ROOT, root, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
    images = make_image_folder(root.parent / 'images')
    config = root / TINY_CONFIG
    config.parent.mkdir(parents=True)
    write_config(tiny_config(images), config)
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
    target = ['-e', str(source)] if kind == 'editable' else [str(source)]
    _run([
        python, '-m', 'pip', 'install', '--no-deps', '--no-build-isolation',
        '--no-index', '-q', *target
    ], cwd=venv.parent)
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


def test_mim_train_from_elsewhere(installed: Dict[str, object], source: Path,
                                  tmp_path: Path) -> None:
    """``mim train mmodc <config file name>`` from an unrelated directory:
    mim finds the config and tools/train.py in the installed package, and
    the config's types resolve through the ``mmodc`` scope. An editable
    install runs the source tree's current config."""
    if installed['kind'] == 'editable':
        config = source / TINY_CONFIG
        config.write_text(config.read_text() +
                          "marker = 'edited after install'\n")
    work_dir = tmp_path / 'work'
    result = _run([
        installed['python'], '-m', 'mim', 'train', 'mmodc',
        Path(TINY_CONFIG).name, '--work-dir',
        str(work_dir)
    ],
                  cwd=tmp_path,
                  CUDA_VISIBLE_DEVICES='')
    train_py = installed['pkg_root'] / '.mim' / 'tools' / 'train.py'
    assert f'Training command is {installed["python"]} {train_py}' in \
        result.stdout
    assert (work_dir / 'epoch_1.pth').is_file()
    dumped = (work_dir / Path(TINY_CONFIG).name).read_text()
    assert "default_scope = 'mmodc'" in dumped
    if installed['kind'] == 'editable':
        assert 'edited after install' in dumped


def test_mim_train_quickstart(installed: Dict[str, object],
                              tmp_path: Path) -> None:
    """The Fashion-MNIST quickstart config, found by name, trains through
    ``mim train mmodc`` (shrunk to 200 images and 4 iterations)."""
    quickstart = next(
        (REPO_ROOT / 'configs' / 'selfsup' / 'odc').glob('*fashionmnist.py'))
    shrink = [
        'model.memory_bank.length=200', 'model.memory_bank.num_classes=10',
        'model.memory_bank.min_cluster=5', 'model.head.num_classes=10',
        'custom_hooks.0.clustering.k=10', 'train_cfg.max_epochs=1',
        'train_dataloader.dataset.indices=200',
        'train_dataloader.batch_size=50', 'train_dataloader.num_workers=0',
        'custom_hooks.0.extract_dataloader.dataset.indices=200',
        'custom_hooks.0.extract_dataloader.num_workers=0'
    ]
    work_dir = tmp_path / 'work'
    _run([
        installed['python'], '-m', 'mim', 'train', 'mmodc', quickstart.name,
        '--work-dir',
        str(work_dir), '--cfg-options', *shrink
    ],
         cwd=tmp_path,
         CUDA_VISIBLE_DEVICES='')
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'Epoch(train) [1][4/4]' in log
    assert 'DeepClusterHook: k-means with k=10 on 200 x' in log
    assert (work_dir / 'epoch_1.pth').is_file()
