"""The few torch APIs the package uses that torch 2.1 (the oldest supported) lacks.

Supported: torch 2.1 (the OpenMMLab mainstream: mmcv 2.1.0's prebuilt wheels stop at 2.1) to
the newest tested (setup.cfg). Each helper takes the public API where it exists and the
equivalent that torch 2.1 has otherwise; where a feature cannot exist on the old torch the
error names the version that has it. Delete a helper once the floor reaches its version.
"""
from typing import Callable

import torch
from torch import nn

#: The first torch with the device-generic ``torch.amp.GradScaler`` (a scaler for the CPU).
GRAD_SCALER_TORCH = '2.3'
#: The first torch whose ``torch.onnx.export`` takes ``dynamo=True`` (the torch.export exporter).
DYNAMO_ONNX_TORCH = '2.5'
#: The first torch whose Dynamo ``CompileForwardHook`` accepts: torch 2.1.2 has
#: ``nn.Module.compile``, but its guards fail on mmcv's ``ConvTranspose2d`` in MMPose's heads
#: ("super(type, obj): obj must be an instance or subtype of type").
COMPILE_FORWARD_TORCH = '2.2'


def compiles_forward() -> bool:
    """Whether this torch is one ``CompileForwardHook`` compiles with (>= 2.2; ``torch.__version__``
    is a ``TorchVersion``, which compares as a version, not as a string)."""
    return torch.__version__ >= COMPILE_FORWARD_TORCH


def has_dynamo_onnx_export() -> bool:
    """Whether ``torch.onnx.export(..., dynamo=True)`` exists (torch >= 2.5)."""
    import inspect
    return 'dynamo' in inspect.signature(torch.onnx.export).parameters


def grad_scaler(device_type: str, **kwargs) -> 'torch.cuda.amp.GradScaler':
    """A ``GradScaler`` for ``device_type`` ('cuda' or 'cpu'), ``kwargs`` as torch's.

    torch >= 2.3: ``torch.amp.GradScaler(device_type)``. torch 2.1/2.2 only have
    ``torch.cuda.amp.GradScaler``, which on the CPU disables itself (scaling nothing, skipping
    no step), so the CPU is refused there instead.
    """
    if hasattr(torch.amp, 'GradScaler'):
        return torch.amp.GradScaler(device_type, **kwargs)
    if device_type == 'cuda':
        return torch.cuda.amp.GradScaler(**kwargs)
    raise RuntimeError(
        f'AMP on the {device_type!r} device needs torch >= {GRAD_SCALER_TORCH} (device-generic '
        f'torch.amp.GradScaler and float16 CPU autocast); this is torch {torch.__version__}. '
        'Train without --amp / the Amp* wrapper, on CUDA, or with a newer torch.')


def check_autocast(device_type: str, dtype: torch.dtype) -> None:
    """Raise if ``torch.autocast(device_type, dtype=dtype)`` would fail or disable itself.

    torch 2.1/2.2 raise (or warn and disable autocast) for float16 on the CPU; training would
    then run in float32 while claiming float16, so the wrapper refuses up front.
    """
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # "... Disabling autocast" is a warning
        try:
            with torch.autocast(device_type, dtype=dtype):
                pass
        except (RuntimeError, UserWarning) as error:
            raise RuntimeError(
                f'autocast in {dtype} on {device_type!r} is not supported by torch '
                f'{torch.__version__} ({error}); float16 on the CPU needs torch >= '
                f'{GRAD_SCALER_TORCH}. Use dtype=\'bfloat16\' on a newer torch, or CUDA.'
            ) from None


def register_state_dict_post_hook(module: nn.Module, hook: Callable) -> None:
    """``module.register_state_dict_post_hook(hook)``; hook(module, state_dict, prefix,
    local_metadata) edits ``state_dict`` in place. torch 2.1 has it only as the private
    ``_register_state_dict_hook`` (same call, same hook signature)."""
    if hasattr(module, 'register_state_dict_post_hook'):
        module.register_state_dict_post_hook(hook)
    else:
        module._register_state_dict_hook(hook)


def register_load_state_dict_pre_hook(module: nn.Module, hook: Callable) -> None:
    """``module.register_load_state_dict_pre_hook(hook)``; hook(module, state_dict, prefix,
    local_metadata, strict, missing_keys, unexpected_keys, error_msgs). torch 2.1 has it only
    as the private ``_register_load_state_dict_pre_hook(hook, with_module=True)``."""
    if hasattr(module, 'register_load_state_dict_pre_hook'):
        module.register_load_state_dict_pre_hook(hook)
    else:
        module._register_load_state_dict_pre_hook(hook, with_module=True)
