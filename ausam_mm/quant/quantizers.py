"""Brevitas quantizer presets for QAT: which weight and input (activation) quantizer each
quantized layer gets, at which bit width.

Every preset is a pair of Brevitas's own quantizer classes, specialised with ``.let()``; no
quantizer arithmetic lives here.

- ``'lsq'`` (default): learned step sizes, as in LSQ QAT. Weights: one learned scale per output
  channel, initialised on the first forward by Brevitas's MSE search on the weights
  (``Int8WeightPerChannelFloatMSE``). Inputs: one learned scale per tensor, initialised by an
  MSE search over the first ``collect_stats_steps`` training forwards
  (``Int8ActPerTensorFloatMSE``). Both scales are ``nn.Parameter``s trained by the optimizer.
- ``'int'``: Brevitas's defaults (those of ``brevitas.graph.quantize.layerwise_quantize``).
  Weights: one scale per tensor recomputed from ``max|w|`` at every forward (nothing learned,
  ``Int8WeightPerTensorFloat``). Inputs: one learned scale per tensor initialised from the
  99.999th percentile over the first ``collect_stats_steps`` forwards (``Int8ActPerTensorFloat``).

Weights are symmetric narrow-range integers (2 bits: {-1, 0, 1}), inputs signed integers. Biases
stay in float, as in LSQ QAT: Brevitas's ``Int32Bias`` is refused by its torch.export-based ONNX
exporter, and its TorchScript QCDQ export of it did not match the PyTorch model in our checks.
"""
from typing import Dict, Optional

from brevitas.quant import (Int8ActPerTensorFloat, Int8ActPerTensorFloatMSE,
                            Int8WeightPerChannelFloatMSE, Int8WeightPerTensorFloat)

#: name -> (weight quantizer, input quantizer), both 8-bit Brevitas injectors re-bit-widthed
QUANTIZERS = {
    'lsq': (Int8WeightPerChannelFloatMSE, Int8ActPerTensorFloatMSE),
    'int': (Int8WeightPerTensorFloat, Int8ActPerTensorFloat),
}

#: quantizers whose weight scale has one value per output channel
PER_CHANNEL = {'lsq'}


def layer_quant_kwargs(quantizer: str, weight_bit_width: int, act_bit_width: int,
                       collect_stats_steps: Optional[int] = None) -> Dict:
    """Keyword arguments of a Brevitas ``QuantConv*``/``QuantLinear`` for one layer."""
    if quantizer not in QUANTIZERS:
        raise ValueError(f'quantizer={quantizer!r} is not known; use one of '
                         f'{sorted(QUANTIZERS)}')
    for name, bits in (('weight_bit_width', weight_bit_width), ('act_bit_width', act_bit_width)):
        if not (isinstance(bits, int) and bits >= 2):
            raise ValueError(f'{name} must be an int >= 2, got {bits!r}')
    weight_quant, act_quant = QUANTIZERS[quantizer]
    act_options = dict(bit_width=act_bit_width)
    if collect_stats_steps is not None:
        if collect_stats_steps < 1:
            raise ValueError(f'collect_stats_steps must be >= 1, got {collect_stats_steps}')
        act_options['collect_stats_steps'] = collect_stats_steps
    return dict(weight_quant=weight_quant.let(bit_width=weight_bit_width),
                input_quant=act_quant.let(**act_options),
                bias_quant=None,
                return_quant_tensor=False)
