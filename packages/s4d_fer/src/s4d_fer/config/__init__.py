"""Run configuration: the dataclass tree (``schema``) and the named presets (``presets``).

Nothing here imports torch, so ``--help`` and refusals stay fast.
"""

from s4d_fer.config.presets import MODEL_SIZES, PRESETS, preset
from s4d_fer.config.schema import (
    DataConfig,
    FinetuneConfig,
    ModelConfig,
    PretrainConfig,
    RunConfig,
    SynthConfig,
    as_dict,
)

__all__ = [
    "MODEL_SIZES",
    "PRESETS",
    "DataConfig",
    "FinetuneConfig",
    "ModelConfig",
    "PretrainConfig",
    "RunConfig",
    "SynthConfig",
    "as_dict",
    "preset",
]
