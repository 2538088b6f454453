"""Save and restore the global random states with every checkpoint."""
from mmengine.hooks import Hook

from mmodc.registry import HOOKS
from mmodc.utils import capture_random_states, restore_random_states


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
        meta = checkpoint.setdefault('meta', {})
        meta['random_states'] = capture_random_states()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('meta', {}).get('random_states')
        if states is None:
            runner.logger.warning(
                'RandomStatesHook: the checkpoint holds no random states; '
                'the resumed run draws different augmentations.')
            return
        restore_random_states(states)
