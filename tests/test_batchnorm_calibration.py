"""BatchNormCalibrationHook in a real Runner on a Fashion-MNIST subset."""
import copy

import pytest
import torch
from conftest import shrink_config
from mmengine.runner import Runner

import mmodc  # noqa: F401
from mmodc.apis import init_model
from mmodc.engine.extractor import (
    recompute_bn_statistics,
    running_stat_batch_norms,
)
from mmodc.engine.hooks import BatchNormCalibrationHook


def _tiny(quickstart_cfg, work_dir, max_epochs=2):
    cfg = shrink_config(quickstart_cfg, num_images=300, num_clusters=10,
                        batch_size=50, work_dir=str(work_dir))
    cfg.train_cfg.max_epochs = max_epochs
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h.type != 'FeatureMonitorHook']
    return cfg


def _hook(runner) -> BatchNormCalibrationHook:
    return next(h for h in runner.hooks
                if isinstance(h, BatchNormCalibrationHook))


def _running_stats(state_dict: dict) -> dict:
    return {
        key: value.clone()
        for key, value in state_dict.items()
        if key.endswith(('running_mean', 'running_var'))
    }


def test_saved_statistics_are_those_of_the_saved_weights(
        quickstart_cfg, tmp_path):
    """After training, the checkpoint's running statistics are a fresh
    calibration of its weights (not the trailing training averages), and
    the model built from it embeds an image alone as in a batch."""
    cfg = _tiny(quickstart_cfg, tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    saved = torch.load(tmp_path / 'epoch_2.pth', weights_only=False)
    saved_stats = _running_stats(saved['state_dict'])
    assert len(saved_stats) == 2 * len(running_stat_batch_norms(runner.model))
    fresh = copy.deepcopy(runner.model)
    recompute_bn_statistics(fresh, _hook(runner)._loader(runner), 10)
    for key, value in _running_stats(fresh.state_dict()).items():
        torch.testing.assert_close(saved_stats[key], value, msg=key)

    model = init_model(cfg, str(tmp_path / 'epoch_2.pth'))
    batch = next(iter(_hook(runner)._loader(runner)))
    inputs = model.data_preprocessor(batch, False)['inputs'][:8]
    with torch.no_grad():
        together = model.extract_feat(inputs)
        for i in range(len(inputs)):
            torch.testing.assert_close(
                model.extract_feat(inputs[i:i + 1])[0], together[i])


def test_calibration_changes_only_running_statistics(quickstart_cfg,
                                                     tmp_path):
    """Before training, a calibration replaces the (0, 1) statistics of
    the fresh network, and moves no weight and no random generator."""
    runner = Runner.from_cfg(_tiny(quickstart_cfg, tmp_path))
    weights = {
        key: value.clone()
        for key, value in runner.model.named_parameters()
    }
    before = _running_stats(runner.model.state_dict())
    assert all(
        torch.equal(value, torch.zeros_like(value))
        for key, value in before.items() if key.endswith('running_mean'))
    rng = torch.get_rng_state()
    hook = _hook(runner)
    hook.before_train(runner)
    assert torch.equal(torch.get_rng_state(), rng)
    assert runner.model.training
    after = _running_stats(runner.model.state_dict())
    assert all(not torch.allclose(before[key], after[key]) for key in after)
    for key, value in runner.model.named_parameters():
        assert torch.equal(value, weights[key]), key


def test_model_without_running_statistics_is_an_error(quickstart_cfg,
                                                      tmp_path):
    cfg = _tiny(quickstart_cfg, tmp_path)
    cfg.model.backbone.norm_cfg.track_running_stats = False
    cfg.model.neck.norm_cfg.track_running_stats = False
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='no BatchNorm layer with running'):
        _hook(runner).before_train(runner)


def test_bad_arguments_are_an_error():
    with pytest.raises(ValueError, match='num_batches=0'):
        BatchNormCalibrationHook(dict(), num_batches=0)
