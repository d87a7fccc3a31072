"""Workaround: MMEngine 0.10.7's ``AmpOptimWrapper`` on any device, the CPU included.

Upstream limitation: ``mmengine.optim.AmpOptimWrapper.__init__`` asserts that a GPU, NPU, MLU or
MUSA device exists and builds ``torch.cuda.amp.GradScaler``, and ``mmengine.runner.amp.autocast``
accepts only bfloat16 on the CPU (open-mmlab/mmengine#960 added bf16 for CUDA only). PyTorch
>= 2.3 has device-generic ``torch.amp.GradScaler`` and CPU autocast in float16 and bfloat16;
on torch 2.1/2.2 these wrappers run on CUDA only and say so (``ausam_mm.compat.torch_version``).

:class:`DeviceAmpOptimWrapper` keeps every method of ``AmpOptimWrapper`` (scaled backward,
unscale + clip + step, ``loss_scaler`` in the state dict) and replaces only the constructor and
the autocast context with device-generic ones. It is not registered: the SAM and AUSAM AMP
wrappers build on it. Remove this module when MMEngine's wrapper accepts the CPU.
"""
from contextlib import contextmanager
from typing import Optional, Union

import torch
from mmengine.device import get_device
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch import nn

from .torch_version import check_autocast, grad_scaler


class DeviceAmpOptimWrapper(AmpOptimWrapper):
    """``AmpOptimWrapper`` with a ``torch.amp.GradScaler`` and autocast for the current device.

    Args:
        loss_scale: ``'dynamic'``, a float (static scale) or the kwargs of ``GradScaler``.
        dtype: ``'float16'`` (default) or ``'bfloat16'``.
        **kwargs: the arguments of :class:`~mmengine.optim.OptimWrapper`.
    """

    def __init__(self, loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Optional[Union[str, torch.dtype]] = None, **kwargs) -> None:
        OptimWrapper.__init__(self, **kwargs)  # skips AmpOptimWrapper's device assertion
        self.device_type = get_device().split(':')[0]
        if self.device_type not in ('cuda', 'cpu'):
            raise ValueError(f'AMP SAM wrappers support CUDA and CPU, got {self.device_type!r}')
        self._scale_update_param = None
        if loss_scale == 'dynamic':
            scaler_kwargs = {}
        elif isinstance(loss_scale, float):
            self._scale_update_param = loss_scale
            scaler_kwargs = dict(init_scale=loss_scale)
        elif isinstance(loss_scale, dict):
            scaler_kwargs = loss_scale
        else:
            raise TypeError("`loss_scale` must be 'dynamic', a float or a dict of GradScaler "
                            f'arguments, got {loss_scale!r}')
        if isinstance(dtype, str):
            if dtype not in ('float16', 'bfloat16'):
                raise ValueError(f"`dtype` must be 'float16' or 'bfloat16', got {dtype!r}")
            dtype = getattr(torch, dtype)
        self.cast_dtype = dtype or torch.float16
        self.loss_scaler = grad_scaler(self.device_type, **scaler_kwargs)
        check_autocast(self.device_type, self.cast_dtype)

    @contextmanager
    def optim_context(self, model: nn.Module):
        with OptimWrapper.optim_context(self, model), \
                torch.autocast(self.device_type, dtype=self.cast_dtype):
            yield
