"""Save and restore the global random states with every checkpoint."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook

from mmodc.registry import HOOKS


@HOOKS.register_module()
class RandomStatesHook(Hook):
    """Keep the random states of torch, numpy and ``random`` in checkpoints.

    On resume they are restored, so that a resumed run draws the same
    augmentations, dropout masks and head initialisations as an
    uninterrupted one (the samplers of mmodc use their own seeded
    generators). The CUDA generator is not saved: CUDA kernels are not
    bitwise reproducible anyway.
    """

    priority = 'NORMAL'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['random_states'] = dict(
            torch=torch.get_rng_state(),
            numpy=np.random.get_state(),
            python=random.getstate())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('meta', {}).get('random_states')
        if states is None:
            runner.logger.warning(
                'RandomStatesHook: the checkpoint holds no random states; '
                'the resumed run draws different augmentations.')
            return
        torch.set_rng_state(states['torch'])
        np.random.set_state(states['numpy'])
        random.setstate(states['python'])
