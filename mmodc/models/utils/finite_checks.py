"""Stop a training step at NaN or Inf, naming the samples, before anything
(the memory, the weights) is written."""
from typing import List, Optional, Sequence

import torch
from mmpretrain.structures import DataSample

from mmodc.utils.progress import current_iteration

#: At most this many sample indices are listed in a message.
LISTED_SAMPLES = 20

#: What to do, said at the end of every message.
HINT = ('nothing was written for this batch, so the last checkpoint is '
        'clean: fix the data or lower the learning rate (or add gradient '
        'clipping) and resume from it with --resume.')


def batch_sample_indices(data_samples: Optional[Sequence[DataSample]],
                         count: int) -> List[int]:
    """Dataset indices of a batch's samples (positions when not packed).

    Args:
        data_samples (Sequence[DataSample], optional): The batch's samples.
        count (int): The batch size.

    Returns:
        list[int]: ``sample_idx`` of each sample, or ``0 .. count - 1``.
    """
    if data_samples and 'sample_idx' in data_samples[0]:
        return [int(sample.sample_idx) for sample in data_samples]
    return list(range(count))


def describe_samples(indices: Sequence[int]) -> str:
    """``'[3, 17] (2 samples)'``, the list cut after
    :data:`LISTED_SAMPLES`."""
    shown = ', '.join(str(index) for index in indices[:LISTED_SAMPLES])
    more = len(indices) - LISTED_SAMPLES
    return (f'[{shown}{f", ... {more} more" if more > 0 else ""}] '
            f'({len(indices)} sample{"s" if len(indices) != 1 else ""})')


def non_finite_rows(values: torch.Tensor) -> torch.Tensor:
    """Whether each row (first dimension) holds a NaN or an Inf."""
    return ~torch.isfinite(values.flatten(1)).all(dim=1)


def check_finite_features(model_name: str, inputs: torch.Tensor,
                          features: torch.Tensor,
                          data_samples: Optional[Sequence[DataSample]]
                          ) -> None:
    """Raise if a training batch's features hold NaN or Inf.

    The message names the iteration and the dataset indices of the samples
    at fault: those whose input images are not finite when there are any
    (BatchNorm spreads one bad image over the whole batch), else those
    whose features are not.

    Args:
        model_name (str): Who checks, for the message (``'ODC'``).
        inputs (torch.Tensor): The batch's preprocessed images.
        features (torch.Tensor): Their ``B x d`` features.
        data_samples (Sequence[DataSample], optional): Their samples.

    Raises:
        FloatingPointError: With the iteration, the samples and a hint.
    """
    bad_features = non_finite_rows(features)
    if not bool(bad_features.any()):
        return
    indices = torch.as_tensor(
        batch_sample_indices(data_samples, features.shape[0]))
    bad_inputs = non_finite_rows(inputs).cpu()
    if bool(bad_inputs.any()):
        cause = ('the input images of samples '
                 f'{describe_samples(indices[bad_inputs].tolist())} hold '
                 'NaN or Inf: check those images and the pipeline')
    else:
        cause = ('the input images are finite, so the network diverged; '
                 'samples '
                 f'{describe_samples(indices[bad_features.cpu()].tolist())}')
    raise FloatingPointError(
        f'{model_name}: non-finite features (NaN or Inf) at '
        f'{current_iteration()}; {cause}. {HINT}')


def check_finite_loss(model_name: str, loss: torch.Tensor,
                      data_samples: Optional[Sequence[DataSample]],
                      count: int) -> None:
    """Raise if a training batch's loss is NaN or Inf (its features being
    finite: :func:`check_finite_features` ran first).

    Args:
        model_name (str): Who checks, for the message.
        loss (torch.Tensor): The batch's loss.
        data_samples (Sequence[DataSample], optional): Its samples.
        count (int): The batch size.

    Raises:
        FloatingPointError: With the iteration, the samples and a hint.
    """
    if bool(torch.isfinite(loss).all()):
        return
    samples = describe_samples(batch_sample_indices(data_samples, count))
    raise FloatingPointError(
        f'{model_name}: the loss is {float(loss)} at {current_iteration()} '
        f'with finite features, so the head diverged; the batch held '
        f'samples {samples}. {HINT}')
