"""Test-only: put NaN into one image of one training batch.

Loaded by test configs through ``custom_imports`` (tests/ on the path). The
moment comes from the environment variable ``MMODC_NAN_AT``: ``N:P`` sets
the image at position ``P`` of iteration ``N`` (0-based, over the whole
run) to NaN, and writes that sample's dataset index to
``WORK_DIR/nan_sample.txt``.
"""
import os
import os.path as osp

from mmengine.hooks import Hook

from mmodc.registry import HOOKS

ITERATION, _, POSITION = os.environ.get('MMODC_NAN_AT', '').partition(':')


@HOOKS.register_module()
class NaNImageHook(Hook):
    """One NaN image at the iteration ``MMODC_NAN_AT`` names."""

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if not ITERATION or runner.iter != int(ITERATION):
            return
        position = int(POSITION)
        inputs = data_batch['inputs'].float()
        inputs[position] = float('nan')
        data_batch['inputs'] = inputs
        sample = data_batch['data_samples'][position]
        with open(osp.join(runner.work_dir, 'nan_sample.txt'), 'w') as file:
            file.write(str(int(sample.sample_idx)))

