from .checked_pretrained_init import CheckedPretrainedInit
from .checkpoint_conversion import (
    CheckpointShapeError,
    ConvertedCheckpoint,
    convert_checkpoint,
    load_converted_checkpoint,
    read_state_dict,
)
from .model_memories import memory_buffer_names, model_memories

__all__ = [
    'CheckedPretrainedInit', 'CheckpointShapeError', 'ConvertedCheckpoint',
    'convert_checkpoint', 'load_converted_checkpoint', 'memory_buffer_names',
    'model_memories', 'read_state_dict'
]
