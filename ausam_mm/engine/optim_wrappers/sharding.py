"""SAM under strategies that shard parameters or gradients: refused, before the first step.

SAM's ascent needs the norm of the *whole* gradient, and its perturbation must be applied to
and undone on every shard of every parameter. Under FSDP (MMEngine's ``FSDPStrategy``, torch's
``FullyShardedDataParallel`` or ``fully_shard``), DeepSpeed ZeRO or ColossalAI, each rank holds
a shard: the wrappers' norm would be the shard's, silently. Until they reduce the norm across
shards, the SAM, AUSAM and ESAM wrappers refuse such a model, naming the strategy and the
alternative (DDP: every rank holds the whole model, and the norm is the whole gradient's).
"""
from typing import Optional

from torch import nn

#: class names of the sharding engines that are not imported here (optional packages)
_SHARDING_ENGINES = {'DeepSpeedEngine': 'DeepSpeed', 'ModelWrapper': 'ColossalAI'}


def sharding_of(model: nn.Module) -> Optional[str]:
    """The name of the strategy that shards ``model``'s parameters or gradients, else None."""
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel
        if isinstance(model, FullyShardedDataParallel) or any(
                isinstance(m, FullyShardedDataParallel) for m in model.modules()):
            return 'FSDP (FullyShardedDataParallel)'
    except ImportError:  # a torch built without distributed support
        pass
    try:
        from torch.distributed.fsdp import FSDPModule  # torch >= 2.6: fully_shard
        if any(isinstance(m, FSDPModule) for m in model.modules()):
            return 'FSDP (fully_shard)'
    except ImportError:
        pass
    for cls in type(model).__mro__:
        if cls.__name__ in _SHARDING_ENGINES:
            return _SHARDING_ENGINES[cls.__name__]
    return None


def refuse_sharded(model: nn.Module, owner: str) -> None:
    """Raise ``RuntimeError`` when ``model`` is sharded (:func:`sharding_of`)."""
    strategy = sharding_of(model)
    if strategy is not None:
        raise RuntimeError(
            f'{owner} cannot train a model sharded by {strategy}: SAM needs the norm of the '
            'whole gradient and its perturbation undone on every shard, and each rank here '
            'holds a shard only. Train with DDP instead (`--launcher pytorch`, '
            "tools/dist_train.sh, or FlexibleRunner with strategy=dict(type='DDPStrategy')), "
            "or keep the sharded strategy with MMEngine's own optimizer wrapper.")
