"""The non-finite rule of SAM, AUSAM and ESAM (docs/ausam.md): a non-finite loss at ``w`` or at
``w + e``, or, without a loss scaler, a non-finite ascent gradient norm raises before the
optimizer steps (``w`` is already restored). Under AMP's loss scaler a gradient overflow is the
scaler's: it skips that step and lowers the scale."""
import math
from typing import Optional, Sequence

import torch
from mmengine.logging import MessageHub
from torch import Tensor


def log_sam_step(owner: str, hub: MessageHub, scale: Optional[float], norm: Tensor,
                 loss: Tensor, loss_at_e: Tensor, rhos: Sequence[float]) -> None:
    """Log ``train/sam/grad_norm`` and ``train/sam/sharpness`` of a SAM step after the rule
    (one device sync); ``scale`` is the loss scaler's (None: no scaler)."""
    norm_value, at_w, at_e = torch.stack(
        [norm.detach().float().cpu() / (scale or 1.0), loss.detach().float().cpu(),
         loss_at_e.detach().float().cpu()]).tolist()
    check_finite(owner, norm_value, at_w, at_e, scale is not None, hub.get_info('iter'), rhos)
    hub.update_scalar('train/sam/grad_norm', norm_value)
    hub.update_scalar('train/sam/sharpness', at_e - at_w)


def check_finite(owner: str, norm: float, at_w: float, at_e: float, scaled: bool,
                 iteration: Optional[int], rhos: Sequence[float]) -> None:
    """Raise ``FloatingPointError`` naming what is not finite, where, and what to look for;
    ``iteration`` is MMEngine's 0-based count (the message gives the log's number)."""
    if not math.isfinite(at_w):
        what = f'the loss is {at_w}'
    elif not math.isfinite(at_e):
        what = f'the loss at w + e is {at_e} (at w: {at_w:.6g})'
    elif not scaled and not math.isfinite(norm):
        what = f'the gradient norm ||g|| is {norm} (loss {at_w:.6g})'
    else:
        return
    where = (f'iteration {iteration + 1} (as numbered in the log)'
             if isinstance(iteration, int) else 'this step')
    raise FloatingPointError(
        f'{owner}: {what} at {where}; the step was not taken and the weights are those before '
        'it. Look for NaN or inf in the inputs or labels, a learning rate or rho (now '
        f"{sorted(set(rhos))}) too large, or an fp16 overflow (try --amp with dtype='bfloat16').")
