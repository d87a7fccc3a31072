"""Brevitas adapter: quantization-aware training of any MMEngine model from its config.

``model=dict(type='BrevitasQATModel', model=dict(...), weight_bit_width=4, ...)`` builds the
inner model and swaps its conv/linear layers for Brevitas quantized layers (see
:func:`build_qat_model`); SAM and AUSAM train it like any other model. Export:
``tools/export_qat.py``. Guide: ``docs/quant.md``.

Importing this package registers ``BrevitasQATModel``; Brevitas itself is imported on first use
(it takes seconds), so ``import ausam_mm`` stays fast for runs that do not quantize.
"""
from importlib import import_module

from .qat_model import SCALES_KEY, BrevitasQATModel, KeepQuantizersOnLoad, build_qat_model, \
    quantize_model

_LAZY = {
    'LayerPlan': 'layerwise', 'plan_layers': 'layerwise', 'quantize_layers_': 'layerwise',
    'quant_parameters': 'layerwise', 'format_plan': 'layerwise', 'QUANT_LAYERS': 'layerwise',
    'QUANTIZERS': 'quantizers', 'layer_quant_kwargs': 'quantizers',
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f'.{_LAZY[name]}', __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['BrevitasQATModel', 'build_qat_model', 'quantize_model', 'KeepQuantizersOnLoad',
           'SCALES_KEY', *_LAZY]
