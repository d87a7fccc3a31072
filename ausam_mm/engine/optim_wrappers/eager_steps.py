"""The SAM wrappers under ``torch.compile``: which of their steps run eagerly, in one place.

MMEngine's ``compile=True`` (``Runner._maybe_compile`` in mmengine/runner/runner.py) replaces
``model.train_step`` by ``torch.compile(model.train_step)``, so Dynamo traces everything that
``train_step`` calls, the optimizer wrapper's ``optim_context`` and ``update_params`` included.
The SAM wrappers' code there is bookkeeping around the model's forward passes (hooks registered
each step, counters, schedules, the message hub, the perturbation, two backward calls, the
optimizer step): traced, it guards on values that change every step and recompiles until
Dynamo's recompile limit. :func:`run_eagerly` marks that code ``torch.compiler.disable`` on
every SAM wrapper class (``SAMMixin.__init_subclass__`` calls it): the methods named in
:data:`EAGER_STEPS`, wherever a subclass defines them. What Dynamo compiles is the model's
forward in ``train_step`` and the one traced method of the step, ``_forward_at_perturbed``.
"""
from contextlib import AbstractContextManager

import torch
from torch import nn

#: the methods of a SAM wrapper that run eagerly under ``torch.compile``
EAGER_STEPS = ('optim_context', '_ascent_step', '_descent_step', '_abandon', '_finish_update',
               '_descent_inputs')
#: skipped by Dynamo (its frame), while the calls it makes are compiled or eager on their own
SKIPPED_FRAMES = ('update_params', )


def run_eagerly(cls: type) -> type:
    """Mark the :data:`EAGER_STEPS` and :data:`SKIPPED_FRAMES` that ``cls`` itself defines."""
    for name in EAGER_STEPS + SKIPPED_FRAMES:
        method = cls.__dict__.get(name)
        if method is not None and not getattr(method, '_ausam_eager', False):
            eager = torch.compiler.disable(method, recursive=name not in SKIPPED_FRAMES)
            eager._ausam_eager = True
            setattr(cls, name, eager)
    return cls


def compile_note(owner: str, second_pass: str) -> str:
    """The log line that says what ``compile=True`` compiles of a SAM step."""
    return (f'{owner}: model.train_step is compiled (compile=True). Dynamo compiles the '
            "model's forward at w (in train_step, with the data preprocessor) and "
            f'{second_pass}, with their backward; the SAM step around them runs eagerly '
            '(torch.compiler.disable): the backward calls, the perturbation and restore, the '
            'BatchNorm freeze, the optimizer step, the logging.')


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
