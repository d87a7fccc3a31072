"""Export a trained Brevitas QAT model to ONNX (QCDQ) with Brevitas's own exporter, and check
the exported file with onnxruntime when it is installed (``tools/export_qat.py``).

The graph is the model's ``mode='tensor'`` forward (logits for mmpretrain classifiers, the
head's outputs for MMPose estimators) on an already *preprocessed* input: the config's
``data_preprocessor`` is not part of it.

Usage::

    from mmengine.config import Config
    from ausam_mm.quant.export import export_qat_checkpoint
    export_qat_checkpoint(Config.fromfile(CONFIG), 'epoch_200.pth', shape=(3, 32, 32))
"""
import os.path as osp
import pickle
from importlib.util import find_spec
from typing import List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from torch import nn

from ..compat.torch_version import DYNAMO_ONNX_TORCH, has_dynamo_onnx_export

NEEDS = {False: ('onnx', 'onnxscript', 'onnxoptimizer'), True: ('onnx', 'onnxoptimizer')}


class TensorForward(nn.Module):
    """``model(x, data_samples=None, mode='tensor')`` as a plain ``forward(x)`` for export."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor):
        return self.model(inputs, data_samples=None, mode='tensor')


class ExportError(RuntimeError):
    """The export is refused: a package is missing, the checkpoint does not fit, or the
    exported file does not compute what the model does; the message says why and the fix."""


def missing_packages(torchscript: bool) -> List[str]:
    """The packages the exporter needs that are not installed."""
    return [name for name in NEEDS[torchscript] if find_spec(name) is None]


def build_model(cfg: Config) -> nn.Module:
    """The model of ``cfg`` (a ``BrevitasQATModel``), built in the config's scope."""
    from brevitas.nn.quant_layer import QuantWeightBiasInputOutputLayer
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    model_cfg = dict(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    if not any(isinstance(m, QuantWeightBiasInputOutputLayer) for m in model.modules()):
        raise ExportError(f'{cfg.filename}: the model has no Brevitas layer; the export takes '
                          "configs with model=dict(type='BrevitasQATModel', ...).")
    return model


def load_weights(model: nn.Module, path: str, trust: bool) -> None:
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=not trust)
    except pickle.UnpicklingError as error:
        raise ExportError(
            f'{path} holds pickled objects besides tensors (MMEngine saves its logger state), '
            'which torch refuses with weights_only=True. Re-run with --trust-checkpoint '
            f'(trust=True) if you made this file.\n({str(error).splitlines()[0]})')
    state = checkpoint.get('state_dict', checkpoint)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys:
        raise ExportError(f'{path} lacks {len(result.missing_keys)} entries of the QAT model '
                          f'(e.g. {result.missing_keys[:3]}): is it a checkpoint of this config?')


def check_with_onnxruntime(path: str, inputs: torch.Tensor, expected, atol: float) -> float:
    """Largest |onnxruntime - torch| relative to max |torch|; raises above ``atol``."""
    import numpy as np
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only (initializer-as-input notices are harmless)
    session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    outputs = session.run(None, {session.get_inputs()[0].name: inputs.numpy()})
    expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
    worst = 0.0
    for got, want in zip(outputs, expected):
        want = want.detach().numpy()
        worst = max(worst, float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12)))
    if worst > atol:
        raise ExportError(f'onnxruntime differs from PyTorch by {worst:.2e} (relative), more '
                          f'than --atol {atol:g}')
    return worst


def export_qat_checkpoint(cfg: Config, checkpoint: str, out: Optional[str] = None,
                          shape: Sequence[int] = (3, 32, 32), batch: int = 1,
                          torchscript: bool = False, trust: bool = False,
                          atol: float = 1e-4) -> str:
    """Export the QAT model of ``cfg`` with the weights of ``checkpoint`` to ``out`` (default:
    next to the checkpoint, ``.onnx``) for an input of ``batch`` x ``shape``; ``torchscript``:
    Brevitas's TorchScript-based exporter instead of torch.export; ``trust``: unpickle the
    checkpoint in full (MMEngine checkpoints hold logger state that torch >= 2.6 refuses with
    ``weights_only=True``). Returns ``out``; raises :class:`ExportError` when refused."""
    missing = missing_packages(torchscript)
    if missing:
        raise ExportError(
            f"ONNX export needs {', '.join(missing)}, which are not installed (optional; not "
            f"core dependencies of ausam_mm). Install them with:\n"
            f"    pip install {' '.join(NEEDS[torchscript])} onnxruntime\n"
            "(onnxruntime is optional too: without it the exported file is not checked).")
    if not torchscript and not has_dynamo_onnx_export():
        raise ExportError(
            f'The default exporter is torch.export-based (torch.onnx.export(dynamo=True)), which '
            f'needs torch >= {DYNAMO_ONNX_TORCH}; this is torch {torch.__version__}. Use '
            '--torchscript (Brevitas\'s TorchScript-based exporter) on this torch.')
    from brevitas.export import export_onnx_qcdq

    model = build_model(cfg)
    load_weights(model, checkpoint, trust)
    module = TensorForward(model).eval()
    out = out or osp.splitext(checkpoint)[0] + '.onnx'
    inputs = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = module(inputs)
    # torch.export's lowest supported opset is 18; Brevitas would otherwise ask for 13 and
    # fall back after a failed version conversion
    opset = dict(opset_version=18) if not torchscript else {}
    export_onnx_qcdq(module, args=inputs, export_path=out, dynamo=not torchscript, **opset)
    import onnx
    nodes = [n.op_type for n in onnx.load(out).graph.node]
    print(f'exported {out}: {len(nodes)} nodes, {nodes.count("QuantizeLinear")} QuantizeLinear, '
          f'{nodes.count("DequantizeLinear")} DequantizeLinear')
    if find_spec('onnxruntime') is None:
        print('onnxruntime is not installed: the exported model was not run '
              '(pip install onnxruntime to check it).')
    else:
        error = check_with_onnxruntime(out, inputs, expected, atol)
        print(f'onnxruntime check passed: max |onnxruntime - torch| / max |torch| = {error:.2e}')
    return out
