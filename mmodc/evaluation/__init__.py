import mmpretrain.evaluation  # noqa: F401  (fills the parent registries)
