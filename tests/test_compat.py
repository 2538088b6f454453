"""The stack fixes that ``import mmodc`` applies (mmodc/utils/compat.py),
each checked through the public MMEngine path that was broken without it.
"""
import functools
import hashlib
import http.server
import pickle
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import CheckpointLoader, Runner
from tiny_setup import (
    REPO_ROOT,
    clean_env,
    free_port,
    make_image_folder,
    tiny_config,
    write_config,
)

import mmodc  # noqa: F401  (applies the fixes)
from mmodc.utils import DownloadError


class NotATensor:
    """A pickled object that ``weights_only=True`` must refuse."""


def _runner(images: Path, name: str, work_dir: Path, **cfg: object) -> Runner:
    """A Runner of the tiny config for one iteration, seed 1 unless set;
    ``cfg`` updates the config."""
    base = tiny_config(images, work_dir=work_dir, max_iters=1, seed=1)
    return Runner.from_cfg(Config(dict(base, experiment_name=name, **cfg)))


def _weights_equal(model: torch.nn.Module, state_dict: dict) -> bool:
    return all(
        torch.equal(value, state_dict[key])
        for key, value in model.state_dict().items())


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Runner checkpoint after one iteration (message hub history,
    numpy objects and all)."""
    tmp_path = tmp_path_factory.mktemp('ckpt')
    images = make_image_folder(tmp_path / 'images')
    runner = _runner(
        images, 'compat_save', tmp_path / 'work', randomness=dict(seed=0))
    runner.train()
    path = tmp_path / 'work' / 'iter_1.pth'
    assert path.is_file()
    return path


def test_runner_resume(checkpoint: Path, tmp_path: Path) -> None:
    """``resume=True`` finds the latest checkpoint in the work dir and
    restores weights, iteration and message hub."""
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    shutil.copy(checkpoint, work_dir / 'iter_1.pth')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_1.pth'))
    # seed 1 initialises other weights than the checkpoint's seed 0
    runner = _runner(
        make_image_folder(tmp_path / 'images'),
        'compat_resume',
        work_dir,
        resume=True)
    runner.train()  # resumes at iteration 1 of 1: no further step
    saved = torch.load(checkpoint, weights_only=False)
    assert runner.iter == 1
    assert _weights_equal(runner.model, saved['state_dict'])
    assert runner.message_hub.get_scalar('train/loss').current() == \
        saved['message_hub']['log_scalars']['train/loss'].current()


def test_runner_load_from(checkpoint: Path, tmp_path: Path) -> None:
    """``load_from`` loads the weights of a Runner checkpoint."""
    runner = _runner(
        make_image_folder(tmp_path / 'images'),
        'compat_load_from',
        tmp_path / 'work',
        load_from=str(checkpoint))
    runner.load_or_resume()
    saved = torch.load(checkpoint, weights_only=False)
    assert _weights_equal(runner.model, saved['state_dict'])


@pytest.fixture
def http_root(tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    """Serve ``tmp_path/served`` on 127.0.0.1; torch hub caches in tmp."""
    served = tmp_path / 'served'
    served.mkdir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()


def test_url_checkpoint_refuses_pickled_objects(http_root: tuple) -> None:
    """A downloaded checkpoint is loaded with ``weights_only=True``."""
    served, url = http_root
    torch.save({'meta': NotATensor()}, served / 'unsafe.pth')
    with pytest.raises(pickle.UnpicklingError, match='[Ww]eights only'):
        CheckpointLoader.load_checkpoint(f'{url}/unsafe.pth', 'cpu')


def test_url_checkpoint_loads_state_dict(http_root: tuple) -> None:
    """A plain state dict loads by URL."""
    served, url = http_root
    state_dict = {'weight': torch.arange(6.).reshape(2, 3)}
    torch.save({'state_dict': state_dict}, served / 'plain.pth')
    loaded = CheckpointLoader.load_checkpoint(f'{url}/plain.pth', 'cpu')
    assert torch.equal(loaded['state_dict']['weight'], state_dict['weight'])


def test_url_checkpoint_with_a_hash_is_verified(http_root: tuple) -> None:
    """A URL whose file name carries a sha256 prefix (``load_from``,
    ``Pretrained``) goes through mmodc's verified download: a file that
    does not match its name is refused and not cached; one that matches is
    cached in torch hub's folder and loads."""
    served, url = http_root
    torch.save({'state_dict': {'w': torch.ones(2)}}, served / 'odc.pth')
    digest = hashlib.sha256((served / 'odc.pth').read_bytes()).hexdigest()
    (served / 'odc.pth').rename(served / f'odc-{digest[:8]}.pth')
    (served / 'odc-00000000.pth').write_bytes(b'not the published file')
    cache = Path(torch.hub.get_dir(), 'checkpoints')
    with pytest.raises(DownloadError, match='failed verification'):
        CheckpointLoader.load_checkpoint(f'{url}/odc-00000000.pth', 'cpu')
    assert not (cache / 'odc-00000000.pth').exists()
    loaded = CheckpointLoader.load_checkpoint(f'{url}/odc-{digest[:8]}.pth',
                                              'cpu')
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert (cache / f'odc-{digest[:8]}.pth').is_file()


def test_np_in1d() -> None:
    """numpy 2.4 dropped ``np.in1d``; MMPretrain's retrieval metrics use
    it."""
    result = np.in1d(np.array([[1, 5], [3, 7]]), [3, 5])
    assert result.tolist() == [False, True, True, False]


@pytest.mark.slow
def test_launcher_pytorch_on_cpu(tmp_path: Path) -> None:
    """``--launcher pytorch`` trains with 2 CPU processes (gloo)."""
    images = make_image_folder(tmp_path / 'images', per_class=4)
    config = write_config(tiny_config(images), tmp_path / 'tiny_dist.py')
    work_dir = tmp_path / 'work'
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        f'--master_port={free_port()}',
        str(REPO_ROOT / 'tools' / 'train.py'),
        str(config), '--launcher', 'pytorch', '--work-dir',
        str(work_dir)
    ]
    result = subprocess.run(
        cmd,
        cwd=tmp_path,
        env=clean_env(
            PYTHONPATH=str(REPO_ROOT), CUDA_VISIBLE_DEVICES='',
            OMP_NUM_THREADS='1'),
        capture_output=True,
        text=True,
        timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[
        -3000:]
    log = next(work_dir.glob('*/*.log')).read_text()
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # MMEngine's name for the world size
    assert 'uses the gloo backend instead of nccl' in (result.stdout +
                                                        result.stderr)
    # 8 images, batch 2: 2 iterations per process when the data is split
    assert 'Epoch(train) [1][2/2]' in log
    assert (work_dir / 'epoch_1.pth').is_file()
