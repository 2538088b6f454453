"""Where the training loop is, for error messages."""
from mmengine.logging import MessageHub


def current_iteration() -> str:
    """Describe the current training iteration (1-based) for messages.

    Returns:
        str: ``'iteration N'``, or ``'before training'`` outside a run.
    """
    iteration = MessageHub.get_current_instance().get_info('iter')
    if iteration is None:
        return 'before training'
    return f'iteration {iteration + 1}'
