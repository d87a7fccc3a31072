"""The SAM step in plain PyTorch: the ascent perturbation and the BatchNorm freeze.

Owns the arithmetic of docs/ausam.md, "The SAM step" (steps 2 to 4); knows nothing of
MMEngine. The wrappers in :mod:`ausam_mm.engine` call these between the two passes.

    e   = rho * g / (||g||_2 + 1e-12)                     (SAM)
    e   = rho * T^2 g / (||T g||_2 + 1e-12), T = |w| + eta (ASAM, ``adaptive=True``)
    w  <- w + e ... second pass ... w <- w_saved
"""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _NormBase

EPS = 1e-12


def grad_norm(params: Sequence[Tensor], adaptive: bool = False, eta: float = 0.01) -> Tensor:
    """``||g||_2`` (or ``||T g||_2`` when ``adaptive``) over ``params`` that have a gradient."""
    grads = [(p.abs() + eta) * p.grad if adaptive else p.grad for p in params]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def perturb_(groups: Sequence[Sequence[Tensor]], rhos: Sequence[float], norm: Tensor,
             adaptive: bool = False, eta: float = 0.01) -> List[Tensor]:
    """Move every parameter to ``w + e`` in place and return the saved ``w``.

    Args:
        groups: parameters to perturb, one list per optimizer param group (each with ``.grad``).
        rhos: the radius of each group (a param-group value, so schedulers can change it).
        norm: the global gradient norm from :func:`grad_norm`, computed on the same grads.
        adaptive: ASAM's elementwise scaling ``T = |w| + eta``.

    Returns:
        The parameters' values before the move, in the order of ``groups``, for
        :func:`restore_`. Restoring copies them back, so ``w`` is exact after the step.
    """
    saved: List[Tensor] = []
    for params, rho in zip(groups, rhos):
        if not params:
            continue
        scale = rho / (norm + EPS)
        saved.extend(p.detach().clone() for p in params)
        with torch.no_grad():
            if adaptive:
                for p in params:
                    p.add_((p.abs() + eta).pow(2) * p.grad * scale.to(p.dtype))
            else:
                torch._foreach_add_(params, torch._foreach_mul(
                    [p.grad for p in params], scale.to(params[0].dtype)))
    return saved


def ascend_(groups: Sequence[Sequence[Tensor]], rhos: Sequence[float], adaptive: bool = False,
            eta: float = 0.01) -> Tuple[List[Tensor], List[Tensor], Tensor]:
    """SAM's ascent, ``w <- w + e``, on the parameters of ``groups`` that have a gradient:
    (saved ``w``, the moved parameters, ``||g||``). A non-finite norm (an fp16 overflow of the
    ascent pass) moves nothing: the loss scaler then judges the descent pass. Scaled gradients
    give the same ``e`` (it is scale-free)."""
    groups = [[p for p in params if p.grad is not None] for params in groups]
    flat = [p for group in groups for p in group]
    norm = grad_norm(flat, adaptive, eta)
    if not flat or not bool(torch.isfinite(norm)):
        return [], [], norm
    return perturb_(groups, rhos, norm, adaptive, eta), flat, norm


def restore_(params: Sequence[Tensor], saved: Sequence[Tensor]) -> None:
    """Copy the values saved by :func:`perturb_` back into ``params`` (flattened groups)."""
    if params:
        with torch.no_grad():
            torch._foreach_copy_(list(params), list(saved))


@contextmanager
def frozen_running_stats(model: nn.Module) -> Iterator[None]:
    """Normalise with batch statistics but leave running mean/var and counters untouched.

    Inside the context every BatchNorm-like layer (``_NormBase``: BatchNorm, SyncBatchNorm,
    tracking InstanceNorm, and subclasses such as mmcv's) in training mode runs as if it did
    not track running statistics, which is exactly "use the batch's statistics, update
    nothing" in PyTorch's implementation, for any ``momentum`` (``None`` included).
    """
    layers = [m for m in model.modules()
              if isinstance(m, _NormBase) and m.track_running_stats and m.training]
    for m in layers:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in layers:
            m.track_running_stats = True


def stash_grads(params: Sequence[Tensor]) -> List[Optional[Tensor]]:
    """Take the gradients off ``params`` (for gradient accumulation across SAM steps)."""
    grads = [p.grad for p in params]
    for p in params:
        p.grad = None
    return grads


def unstash_grads(params: Sequence[Tensor], grads: Sequence[Optional[Tensor]]) -> None:
    """Put back gradients taken by :func:`stash_grads`, replacing the current ones."""
    for p, g in zip(params, grads):
        p.grad = g
