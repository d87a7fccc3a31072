"""What of an optimizer wrapper's step runs eagerly when MMEngine compiles ``train_step``.

MMEngine's ``compile=True`` (``Runner._maybe_compile`` in mmengine/runner/runner.py) replaces
``model.train_step`` by ``torch.compile(model.train_step)``, so Dynamo traces everything that
``train_step`` calls, the optimizer wrapper's ``optim_context`` and ``update_params`` included.
The SAM wrappers' code there is bookkeeping around the model's forward passes (hooks registered
each step, counters, schedules, the message hub, the perturbation, two backward calls, the
optimizer step): traced, it guards on values that change every step and recompiles until
Dynamo's recompile limit. The wrappers mark that code ``torch.compiler.disable``; this module
holds the two pieces that a decorator alone does not cover.
"""
from contextlib import AbstractContextManager

import torch
from torch import nn


class EagerContext(AbstractContextManager):
    """A context manager whose enter and exit run eagerly (``torch.compiler.disable``), the
    ``with`` body being compiled as usual: the body of a generator-based context manager runs
    inside ``__enter__``/``__exit__``, where a decorator on the generator function does not
    reach."""

    def __init__(self, context: AbstractContextManager) -> None:
        self.context = context

    @torch.compiler.disable
    def __enter__(self):
        return self.context.__enter__()

    @torch.compiler.disable
    def __exit__(self, *exc_info):
        return self.context.__exit__(*exc_info)


def compiled_by_runner(model: nn.Module) -> bool:
    """Whether MMEngine's Runner compiled ``model.train_step`` (``compile`` set in the config):
    it stores ``torch.compile(model.train_step)`` as an instance attribute of the model (or of
    its DDP wrapper, the object ``train_step`` passes to ``optim_context``)."""
    return 'train_step' in vars(model)
