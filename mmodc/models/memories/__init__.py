from .odc_memory import ODCMemory

__all__ = ['ODCMemory']
