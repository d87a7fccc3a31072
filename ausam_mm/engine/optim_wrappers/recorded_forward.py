"""The model call a SAM step repeats: recorded while ``optim_context`` is open.

MMEngine's ``BaseModel.train_step`` runs the forward inside ``optim_wrapper.optim_context(model)``
and then calls ``optim_wrapper.update_params(loss)``; the SAM wrappers record that forward's
inputs and output (:func:`recording`) and rerun it at ``w + e`` (:meth:`RecordedForward.rerun`).
"""
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any, Iterator, List, Optional, Tuple

import torch
from mmengine.model import is_model_wrapper
from torch import nn


class RecordedForward:
    """The one model call seen inside ``optim_context``: the module, its inputs, its output.
    Its two recording hooks run eagerly under ``torch.compile``: the model's forward between
    them is what Dynamo compiles."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.calls: List[Tuple[tuple, dict]] = []
        self.output: Any = None

    @torch.compiler.disable
    def record_inputs(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self.calls.append((args, kwargs))

    @torch.compiler.disable
    def record_output(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        self.output = output

    def rerun(self) -> Any:
        args, kwargs = self.calls[0]
        return self.model(*args, **kwargs)

    @property
    def parse_losses(self):
        module = self.model.module if is_model_wrapper(self.model) else self.model
        return module.parse_losses


@contextmanager
def recording(forward: RecordedForward) -> Iterator[None]:
    """Record the calls of ``forward.model`` while open."""
    model = forward.model
    handles = [model.register_forward_pre_hook(forward.record_inputs, with_kwargs=True),
               model.register_forward_hook(forward.record_output, with_kwargs=True)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def checked(forward: Optional[RecordedForward], owner: str) -> RecordedForward:
    """``forward`` when a SAM step can repeat it: one call that returned the dict of losses."""
    if forward is None or not forward.calls:
        raise RuntimeError(
            f'{owner}.update_params() found no model forward to repeat: SAM reruns the '
            'forward that ran inside `optim_wrapper.optim_context(model)`. Use a model '
            "whose train_step is MMEngine's BaseModel.train_step, or call the model inside "
            'that context before update_params().')
    if len(forward.calls) > 1:
        raise RuntimeError(
            f'{owner} saw the model called {len(forward.calls)} times inside optim_context; '
            'SAM can only repeat a train_step with a single forward.')
    if not isinstance(forward.output, Mapping):
        raise TypeError(
            f"{owner} repeats the model's forward to get the loss at w + e, so the forward "
            'that runs inside optim_context must return the dict of losses (as '
            "BaseModel.train_step's `self._run_forward(data, mode='loss')` does); it "
            f'returned {type(forward.output).__name__}. A train_step that computes the '
            "loss outside forward cannot be repeated: compute it in forward(mode='loss') "
            "and keep MMEngine's BaseModel.train_step.")
    return forward
