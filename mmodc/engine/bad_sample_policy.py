"""The config key ``skip_bad_samples``: what a run does at an unreadable
image.

By default a run stops at the first image that cannot be read, with its
path and annotation line (:class:`CheckedLoadImageFromFile`). With
``skip_bad_samples = True`` at the top of the config (or
``--cfg-options skip_bad_samples=True``), :func:`apply_skip_bad_samples`
wraps the dataset of every dataloader of the config in
:class:`SkipBadSamples`, batches with :func:`skip_bad_samples_collate` and
adds :class:`SkippedSamplesHook`: unreadable samples are left out, counted,
logged once each and listed at the end of every epoch.
"""
from mmengine.config import Config
from mmengine.logging import print_log

from mmodc.utils.config_nodes import find_dicts

#: The top-level config key.
KEY = 'skip_bad_samples'
#: Where the Runner and the hooks take dataloader configs from.
LOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader',
               'custom_hooks')


def is_dataloader_config(node: dict) -> bool:
    """A dict with ``dataset`` and ``batch_size`` (the training loader, a
    hook's extraction loader...)."""
    return 'dataset' in node and 'batch_size' in node


def apply_skip_bad_samples(cfg: Config) -> None:
    """Make every dataloader of ``cfg`` skip unreadable samples when
    ``cfg.skip_bad_samples`` is true (else leave ``cfg`` as it is).

    Args:
        cfg (mmengine.Config): The complete config, changed in place.
    """
    if not cfg.get(KEY):
        return
    loaders = [loader for key in LOADER_KEYS
               for loader in find_dicts(cfg.get(key), is_dataloader_config)]
    for loader in loaders:
        if loader['dataset'].get('type') != 'SkipBadSamples':
            loader['dataset'] = dict(type='SkipBadSamples',
                                     dataset=loader['dataset'])
        collate = dict(loader.get('collate_fn') or
                       dict(type='pseudo_collate'))
        if collate['type'] != 'mmodc.skip_bad_samples_collate':
            loader['collate_fn'] = dict(
                type='mmodc.skip_bad_samples_collate',
                collate=collate['type'])
    hooks = cfg.setdefault('custom_hooks', [])
    if not any(hook.get('type') == 'SkippedSamplesHook' for hook in hooks):
        hooks.append(dict(type='SkippedSamplesHook'))
    print_log(f'{KEY}: {len(loaders)} dataloaders leave out unreadable '
              'images (SkipBadSamples); each is logged.', logger='current')
