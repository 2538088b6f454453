"""Images per second of the quickstart's ODC training: the bare network step
against the full Runner iteration and the data pipeline, in one run.

Three measurements on the quickstart config
(``configs/selfsup/odc/odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py``):

* **bare step**: the data preprocessor, backbone, neck and head forward, a
  cross-entropy loss on fixed labels, backward and the SGD step, on one
  in-memory batch of real images (no data loading, no memory, no hooks);
* **full iteration**: MMEngine's Runner training the config (its
  dataloader with its workers, ODC's memory update in the loss, ODCHook,
  logging, the optimizer wrapper); the first ``--warmup`` iterations and the
  initial clustering are excluded by timing from the hooks;
* **data pipeline**: the training dataloader alone (collation, the
  worker, the augmentations when they are per-image transforms).

The bare step and the full iteration are measured with the model's
``channels_last=False`` and ``True`` (the default memory format and
channels-last convolutions), whatever the config says.

The config augments whole batches in its data preprocessor
(``BatchCropFlipJitter``) and loads without a worker. The baseline for that
choice is measured too: the same augmentations as per-image transforms in
the dataset pipeline (MMPretrain's ``RandomResizedCrop``, ``RandomFlip``,
mmodc's ``RandomIntensityJitter``) run by one dataloader worker, as the
config did before 2026-12-06 (full iteration with channels-last, and the
data pipeline).

Training images are limited to ``--num-images`` (default 10,000; the memory
and K are sized to it) so the initial clustering before the timed part is
short: the per-iteration work does not depend on N, except the memory
update's random writes. FeatureMonitorHook and checkpoints are left out of
the full iteration (the monitor's cost per epoch is in the README).

Example::

    python benchmarks/train_step.py                 # 30 timed iterations
    python benchmarks/train_step.py --iters 60 --threads 2
"""
import argparse
import copy
import functools
import os.path as osp
import sys
import time

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _machine_load import OtherLoad  # noqa: E402

import mmodc  # noqa: E402,F401
from mmodc.engine import unwrap_model  # noqa: E402
from mmodc.registry import HOOKS, MODELS  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs/selfsup/odc/'
                  'odc_resnet18-w16_1xb256-steplr-8e_fashionmnist.py')
IMAGE_SIZE = 28  # Fashion-MNIST


def parse_args() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--iters', type=int, default=30,
                        help='timed iterations of each measurement')
    parser.add_argument('--warmup', type=int, default=5,
                        help='untimed iterations first')
    parser.add_argument('--num-images', type=int, default=10000)
    parser.add_argument('--threads', type=int,
                        help='torch intra-op threads (default: torch\'s)')
    parser.add_argument('--work-dir', default='work_dirs/bench_train_step')
    return parser.parse_args()


@HOOKS.register_module()
class IterationClock(Hook):
    """Wall time from the start of iteration ``warmup`` to the end of the
    last one."""

    priority = 'LOWEST'

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.start = self.end = None

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter == self.warmup:
            self.start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.end = time.perf_counter()


def benchmark_cfg(args: argparse.Namespace) -> Config:
    """The config, on ``num_images`` images, for warmup + iters
    iterations, without the monitor and checkpoints."""
    cfg = Config.fromfile(args.config)
    n = args.num_images
    cfg.model.memory_bank.length = n
    cfg.train_dataloader.dataset.indices = n
    cluster_hook = cfg.custom_hooks[0]
    cluster_hook.extract_dataloader.dataset.indices = n
    cfg.custom_hooks = [
        hook for hook in cfg.custom_hooks
        if hook.type not in ('FeatureMonitorHook', 'RandomStatesHook')
    ] + [dict(type='IterationClock', warmup=args.warmup)]
    cfg.train_cfg = dict(type='IterBasedTrainLoop',
                         max_iters=args.warmup + args.iters)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10**9)
    cfg.default_hooks.logger.interval = 10**9
    cfg.log_level = 'WARNING'
    cfg.work_dir = args.work_dir
    return cfg


def full_iteration(cfg: Config, batch_size: int) -> float:
    """Images/s of the Runner's training iterations."""
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    runner.train()
    clock = next(h for h in runner.hooks if isinstance(h, IterationClock))
    iters = runner.iter - clock.warmup
    return iters * batch_size / (clock.end - clock.start)


def data_pipeline(cfg: Config, warmup: int, iters: int) -> float:
    """Images/s of the training dataloader alone."""
    init_default_scope('mmodc')
    loader = Runner.build_dataloader(copy.deepcopy(cfg.train_dataloader))
    batches = iter(loader)
    for _ in range(warmup):
        next(batches)
    start, images = time.perf_counter(), 0
    for _ in range(iters):
        images += len(next(batches)['inputs'])
    return images / (time.perf_counter() - start)


def bare_step(cfg: Config, warmup: int, iters: int) -> float:
    """Images/s of forward + backward + SGD on one in-memory batch."""
    init_default_scope('mmodc')
    runner_cfg = copy.deepcopy(cfg)
    loader = Runner.build_dataloader(runner_cfg.train_dataloader)
    model = MODELS.build(runner_cfg.model)
    model.train()
    inputs = model.data_preprocessor(next(iter(loader)),
                                     training=True)['inputs']
    optimizer_cfg = dict(runner_cfg.optim_wrapper.optimizer)
    optimizer_cfg.pop('type')
    optimizer = torch.optim.SGD(model.parameters(), **optimizer_cfg)
    labels = torch.randint(0, cfg.model.head.num_classes, (len(inputs), ),
                           generator=torch.Generator().manual_seed(0))
    network = unwrap_model(model)

    def step() -> None:
        logits = network.head(network.extract_feat(inputs))
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    return iters * len(inputs) / (time.perf_counter() - start)


def main() -> None:
    """Measure and print."""
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = benchmark_cfg(args)
    batch_size = cfg.train_dataloader.batch_size
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'batch {batch_size}, {cfg.train_dataloader.num_workers} '
          f'dataloader worker(s), {args.iters} timed iterations '
          f'(+{args.warmup}), {args.num_images} images')
    formats = {
        'contiguous': with_channels_last(cfg, False),
        'channels_last': with_channels_last(cfg, True),
    }
    per_image = with_per_image_augmentation(formats['channels_last'])
    measurements = {
        'data pipeline': functools.partial(
            data_pipeline, cfg, args.warmup, args.iters),
        'data pipeline, per-image': functools.partial(
            data_pipeline, per_image, args.warmup, args.iters),
    }
    for name, format_cfg in formats.items():
        measurements[f'bare step, {name}'] = functools.partial(
            bare_step, format_cfg, args.warmup, args.iters)
        measurements[f'full iteration, {name}'] = functools.partial(
            full_iteration, format_cfg, batch_size)
    measurements['full iteration, channels_last, per-image'] = \
        functools.partial(full_iteration, per_image, batch_size)
    results = {}
    for name, measure in measurements.items():
        with OtherLoad() as load:
            results[name] = measure()
        print(f'{name:30s} {results[name]:8.0f} images/s '
              f'(other processes: {load.describe()})', flush=True)
    ratios = [('data pipeline', 'bare step, contiguous')]
    ratios += [(f'full iteration, {name}', f'bare step, {name}')
               for name in formats]
    ratios += [(f'{kind}, channels_last', f'{kind}, contiguous')
               for kind in ('bare step', 'full iteration')]
    ratios += [('full iteration, channels_last',
                'full iteration, channels_last, per-image'),
               ('full iteration, channels_last, per-image',
                'bare step, channels_last')]
    for candidate, baseline in ratios:
        print(f'{candidate} / {baseline}: '
              f'{results[candidate] / results[baseline]:.2f}x')


def with_per_image_augmentation(cfg: Config) -> Config:
    """A copy of ``cfg`` that draws and applies its data preprocessor's
    ``BatchCropFlipJitter`` settings image by image in the dataset
    pipeline, with one persistent dataloader worker."""
    cfg = copy.deepcopy(cfg)
    augment = cfg.model.data_preprocessor.pop('augment')
    cfg.model.data_preprocessor.type = 'ClsDataPreprocessor'
    cfg.train_dataloader.update(num_workers=1, persistent_workers=True)
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='RandomResizedCrop', scale=IMAGE_SIZE,
             crop_ratio_range=augment.crop_ratio_range),
        dict(type='RandomFlip', prob=augment.flip_prob),
        dict(type='RandomIntensityJitter', brightness=augment.brightness,
             contrast=augment.contrast),
        dict(type='PackInputs'),
    ]
    return cfg


def with_channels_last(cfg: Config, channels_last: bool) -> Config:
    """A copy of ``cfg`` whose model uses the given memory format."""
    cfg = copy.deepcopy(cfg)
    cfg.model.channels_last = channels_last
    return cfg


if __name__ == '__main__':
    main()
