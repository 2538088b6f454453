"""Test-only: make one rank of a distributed run raise.

Loaded by test configs through ``custom_imports`` (tests/ on the path). The
failure comes from the environment variable ``MMODC_FAIL_AT``:
``RANK:WHERE:N`` makes rank ``RANK`` raise at iteration ``N`` (0-based)
in the model's loss (``loss``) or in a hook (``hook``), or in the training
pipeline (``data``: ``FailingTransform``) at its ``N``-th sample.
"""
import os

from mmengine.dist import get_rank
from mmengine.hooks import Hook

from mmodc.models.algorithms import ODC
from mmodc.registry import HOOKS, TRANSFORMS
from mmodc.utils import current_iteration

RANK, WHERE, ITERATION = (os.environ.get('MMODC_FAIL_AT') or '-1:none:-1'
                          ).split(':')


def failing_here(where: str) -> bool:
    return (WHERE == where and get_rank() == int(RANK)
            and current_iteration() == f'iteration {int(ITERATION) + 1}')


def fail(where: str) -> None:
    raise RuntimeError(f'injected failure in the {where} on rank {RANK}')


def loss_then_maybe_fail(loss):

    def checked_loss(self, inputs, data_samples):
        if failing_here('loss'):
            fail('loss')
        return loss(self, inputs, data_samples)

    return checked_loss


ODC.loss = loss_then_maybe_fail(ODC.loss)


@HOOKS.register_module()
class FailHook(Hook):
    """Raise in ``after_train_iter`` (``hook``)."""

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if failing_here('hook'):
            fail('hook')


@TRANSFORMS.register_module()
class FailingTransform:
    """Pass samples through; raise at the ``N``-th (``data``)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, results: dict) -> dict:
        self.count += 1
        if (WHERE == 'data' and get_rank() == int(RANK)
                and self.count == int(ITERATION)):
            fail('data')
        return results
