from .inference import inference_model
from .model_hub import (
    get_model,
    get_model_info,
    init_model,
    list_models,
    model_index_path,
)

__all__ = [
    'get_model', 'get_model_info', 'inference_model', 'init_model',
    'list_models', 'model_index_path'
]
