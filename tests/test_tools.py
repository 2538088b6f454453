"""tools/train.py and tools/test.py: config handling and a real train ->
test round trip on the command line."""
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from tiny_setup import (
    REPO_ROOT,
    clean_env,
    make_image_folder,
    tiny_config,
    write_config,
)

TOOLS = REPO_ROOT / 'tools'
sys.path.insert(0, str(TOOLS))
import _runner_setup  # noqa: E402


def _tool(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOLS / script), *args],
                          cwd=cwd,
                          env=clean_env(
                              PYTHONPATH=str(REPO_ROOT),
                              CUDA_VISIBLE_DEVICES=''),
                          capture_output=True,
                          text=True,
                          timeout=180)


def test_default_work_dir_of_absolute_config() -> None:
    assert _runner_setup.default_work_dir('/a/b/odc_x.py') == \
        './work_dirs/odc_x'
    assert _runner_setup.default_work_dir('configs/odc_x.py') == \
        './work_dirs/odc_x'


def test_dataloader_defaults() -> None:
    cfg = Config(
        dict(
            train_dataloader=dict(num_workers=0, batch_size=2),
            val_dataloader=dict(num_workers=2, pin_memory=False),
            test_dataloader=None))
    _runner_setup.set_dataloader_defaults(cfg)
    train, val = cfg.train_dataloader, cfg.val_dataloader
    assert train.persistent_workers is False  # PyTorch refuses True with 0
    assert train.pin_memory is torch.cuda.is_available()
    assert train.collate_fn == dict(type='default_collate')
    assert val.persistent_workers is True and val.pin_memory is False
    assert cfg.test_dataloader is None
    _runner_setup.set_dataloader_defaults(cfg, no_persistent_workers=True)
    assert cfg.val_dataloader.persistent_workers is False


def test_help_does_not_import_torch() -> None:
    """``mim train`` runs ``train.py -h`` before every training."""
    code = ('import runpy, sys; sys.argv = [sys.argv[1], "-h"]\n'
            'try:\n    runpy.run_path(sys.argv[0], run_name="__main__")\n'
            'except SystemExit:\n    pass\n'
            'print("torch" in sys.modules)')
    for script in ('train.py', 'test.py'):
        result = subprocess.run(
            [sys.executable, '-c', code,
             str(TOOLS / script)],
            cwd=TOOLS,
            capture_output=True,
            text=True,
            timeout=60)
        assert '--launcher' in result.stdout
        assert result.stdout.strip().endswith('False')


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_amp_refused_on_cpu(tmp_path: Path) -> None:
    config = write_config(tiny_config(tmp_path), tmp_path / 'tiny.py')
    result = _tool('train.py', str(config), '--amp', cwd=tmp_path)
    assert result.returncode == 2
    assert '--amp needs a CUDA' in result.stderr


@pytest.mark.slow
def test_train_then_test(tmp_path: Path) -> None:
    """train.py with an absolute config path and no --work-dir trains into
    ./work_dirs/<config name> (num_workers=0, persistent_workers unset);
    test.py evaluates the checkpoint and dumps the predictions."""
    images = make_image_folder(tmp_path / 'images')
    config = write_config(
        tiny_config(images, with_test=True), tmp_path / 'tiny_cls.py')
    result = _tool('train.py', str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = tmp_path / 'work_dirs' / 'tiny_cls' / 'epoch_1.pth'
    assert checkpoint.is_file()

    preds = tmp_path / 'preds.pkl'
    result = _tool(
        'test.py', str(config), str(checkpoint), '--out', str(preds),
        cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'accuracy/top1' in result.stdout + result.stderr
    with open(preds, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 8
    assert {'pred_label', 'gt_label', 'img_path'} <= set(predictions[0])
