from .odc_memory import ODCMemory
from .sharded_odc_memory import ShardedODCMemory

__all__ = ['ODCMemory', 'ShardedODCMemory']
