"""Export a trained Brevitas QAT checkpoint to ONNX (QCDQ) with Brevitas's own exporter.

The graph is the model's ``mode='tensor'`` forward (logits for mmpretrain classifiers, the
head's outputs for MMPose estimators) on an already *preprocessed* input: the config's
``data_preprocessor`` (mean/std, BGR->RGB) is not part of it. Quantized tensors appear as
``QuantizeLinear -> Clip -> DequantizeLinear`` (the Clip narrows int8 to the layer's bit width).
When onnxruntime is installed the exported file is run on the same input and compared with the
PyTorch model.

Needs the optional packages ``onnx``, ``onnxoptimizer`` (Brevitas's QCDQ exporter imports it)
and ``onnxscript`` (torch.export-based exporter, the default; not with ``--torchscript``), and
``onnxruntime`` for the check: ``pip install onnx onnxscript onnxoptimizer onnxruntime`` (the
versions of requirements/lock.txt).

Examples:
    python tools/export_qat.py configs/qat/resnet18_cifar10_w4a4_ausam.py \\
        work_dirs/resnet18_cifar10_w4a4_ausam/epoch_200.pth --shape 3 32 32 --trust-checkpoint
    python tools/export_qat.py configs/qat/simcc_res50_w4a4_mpii-256x256.py CKPT --shape 3 256 256
"""
import argparse
import os.path as osp
import pickle
import sys
from importlib.util import find_spec
from typing import List, Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import MODELS, init_default_scope
from torch import nn

from ausam_mm.core.torch_compat import DYNAMO_ONNX_TORCH, has_dynamo_onnx_export

NEEDS = {False: ('onnx', 'onnxscript', 'onnxoptimizer'), True: ('onnx', 'onnxoptimizer')}


class TensorForward(nn.Module):
    """``model(x, data_samples=None, mode='tensor')`` as a plain ``forward(x)`` for export."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor):
        return self.model(inputs, data_samples=None, mode='tensor')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Export a Brevitas QAT checkpoint to ONNX QCDQ')
    parser.add_argument('config', help='the QAT config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='MMEngine checkpoint (.pth)')
    parser.add_argument('--out', help='output .onnx (default: next to the checkpoint)')
    parser.add_argument('--shape', type=int, nargs='+', default=[3, 32, 32],
                        help='input shape without the batch dimension (default: 3 32 32)')
    parser.add_argument('--batch', type=int, default=1, help='batch size of the example input')
    parser.add_argument('--torchscript', action='store_true',
                        help="Brevitas's TorchScript-based exporter instead of torch.export")
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='unpickle the checkpoint in full (MMEngine checkpoints hold logger '
                        'state that torch>=2.6 refuses with weights_only=True); only for files '
                        'you trust')
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest |onnxruntime - torch| accepted, relative to max |torch|')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value')
    return parser.parse_args(argv)


def missing_packages(torchscript: bool) -> List[str]:
    return [name for name in NEEDS[torchscript] if find_spec(name) is None]


def build_model(cfg: Config) -> nn.Module:
    import ausam_mm  # noqa: F401  (registers BrevitasQATModel)
    from brevitas.nn.quant_layer import QuantWeightBiasInputOutputLayer
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    model_cfg = dict(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    if not any(isinstance(m, QuantWeightBiasInputOutputLayer) for m in model.modules()):
        raise SystemExit(f'{cfg.filename}: the model has no Brevitas layer; export_qat.py '
                         "exports configs with model=dict(type='BrevitasQATModel', ...).")
    return model


def load_weights(model: nn.Module, path: str, trust: bool) -> None:
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=not trust)
    except pickle.UnpicklingError as error:
        raise SystemExit(
            f'{path} holds pickled objects besides tensors (MMEngine saves its logger state), '
            'which torch refuses with weights_only=True. Re-run with --trust-checkpoint if you '
            f'made this file.\n({str(error).splitlines()[0]})')
    state = checkpoint.get('state_dict', checkpoint)
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys:
        raise SystemExit(f'{path} lacks {len(result.missing_keys)} entries of the QAT model '
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
        raise SystemExit(f'onnxruntime differs from PyTorch by {worst:.2e} (relative), more '
                         f'than --atol {atol:g}')
    return worst


def main(argv=None) -> Optional[str]:
    args = parse_args(argv)
    missing = missing_packages(args.torchscript)
    if missing:
        raise SystemExit(
            f"ONNX export needs {', '.join(missing)}, which are not installed (optional; not "
            f"core dependencies of ausam_mm). Install them with:\n"
            f"    pip install {' '.join(NEEDS[args.torchscript])} onnxruntime\n"
            "(onnxruntime is optional too: without it the exported file is not checked).")
    if not args.torchscript and not has_dynamo_onnx_export():
        raise SystemExit(
            f'The default exporter is torch.export-based (torch.onnx.export(dynamo=True)), which '
            f'needs torch >= {DYNAMO_ONNX_TORCH}; this is torch {torch.__version__}. Use '
            '--torchscript (Brevitas\'s TorchScript-based exporter) on this torch.')
    from brevitas.export import export_onnx_qcdq

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model(cfg)
    load_weights(model, args.checkpoint, args.trust_checkpoint)
    module = TensorForward(model).eval()
    out = args.out or osp.splitext(args.checkpoint)[0] + '.onnx'
    inputs = torch.randn(args.batch, *args.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = module(inputs)
    # torch.export's lowest supported opset is 18; Brevitas would otherwise ask for 13 and
    # fall back after a failed version conversion
    opset = dict(opset_version=18) if not args.torchscript else {}
    export_onnx_qcdq(module, args=inputs, export_path=out, dynamo=not args.torchscript, **opset)
    import onnx
    nodes = [n.op_type for n in onnx.load(out).graph.node]
    print(f'exported {out}: {len(nodes)} nodes, {nodes.count("QuantizeLinear")} QuantizeLinear, '
          f'{nodes.count("DequantizeLinear")} DequantizeLinear')
    if find_spec('onnxruntime') is None:
        print('onnxruntime is not installed: the exported model was not run '
              '(pip install onnxruntime to check it).')
    else:
        error = check_with_onnxruntime(out, inputs, expected, args.atol)
        print(f'onnxruntime check passed: max |onnxruntime - torch| / max |torch| = {error:.2e}')
    return out


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
