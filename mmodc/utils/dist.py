"""Thin helpers over ``torch.distributed`` that are no-ops in one process."""
import torch
import torch.distributed as torch_dist
from mmengine.dist import get_world_size


def is_distributed() -> bool:
    """Whether a process group with more than one process is running."""
    return (torch_dist.is_available() and torch_dist.is_initialized()
            and get_world_size() > 1)


def all_gather_cat(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` of every rank along dim 0, in rank order.

    Ranks may hold different numbers of rows: the rows are padded to the
    largest count for the collective and trimmed afterwards.

    Args:
        tensor (torch.Tensor): The local rows.

    Returns:
        torch.Tensor: The rows of all ranks (the input itself in one
        process).
    """
    if not is_distributed():
        return tensor
    world_size = get_world_size()
    count = torch.tensor([tensor.shape[0]], device=tensor.device)
    counts = [torch.empty_like(count) for _ in range(world_size)]
    torch_dist.all_gather(counts, count)
    counts = torch.cat(counts).tolist()
    padded = tensor.new_zeros((max(counts), ) + tensor.shape[1:])
    padded[:tensor.shape[0]] = tensor
    gathered = [torch.empty_like(padded) for _ in range(world_size)]
    torch_dist.all_gather(gathered, padded)
    return torch.cat([part[:n] for part, n in zip(gathered, counts)])


def broadcast_(tensor: torch.Tensor, src: int = 0) -> torch.Tensor:
    """Overwrite ``tensor`` in place with rank ``src``'s values.

    Args:
        tensor (torch.Tensor): The tensor to synchronise.
        src (int): The source rank.

    Returns:
        torch.Tensor: ``tensor`` itself.
    """
    if is_distributed():
        torch_dist.broadcast(tensor, src)
    return tensor
