"""The paper's models as upstream configs on local synthetic data, for tools/benchmark_speed.py.

Writes two configs into ``OUT/cfg`` (nothing is downloaded, no pretrained weights):

- ``cifar_resnet18_synthetic.py``: mmpretrain's ``resnet/resnet18_8xb16_cifar10.py`` (CIFAR
  ResNet-18) reading ``--cifar-images`` generated 32x32 PNGs from a ``CustomDataset`` folder
  through the upstream train pipeline (a file load, then random crop with padding and flip);
- ``simcc_res50_mpii_synthetic.py``: MMPose's
  ``body_2d_keypoint/simcc/mpii/simcc_res50_wo-deconv-8xb64-210e_mpii-256x256.py`` (SimCC
  ResNet-50, 256x256 input) on the 5 MPII images of ``tests/data/mpii`` repeated 400 times,
  through the upstream train pipeline.

``tools/gpu_check.sh`` uses them on a GPU; docs/benchmarks.md times them on the CPU.

Examples:
    python tools/paper_configs.py results/paper_cfg --workers 0 --cifar-images 1024
    python tools/benchmark_speed.py results/paper_cfg/cfg/cifar_resnet18_synthetic.py \\
        --batch-size 64 --out results/speed_cpu_cifar_resnet18_bs64.json
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

from known_warnings import silence

silence()  # before the imports below: some dependencies warn while they load

from ausam_mm.benchmark.paper_configs import cifar_resnet18, simcc_res50_mpii  # noqa: E402
from ausam_mm.benchmark.synthetic import write_class_images  # noqa: E402

MPII = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tests', 'data', 'mpii')


def main(argv: Optional[List[str]] = None) -> List[str]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out', help='folder: OUT/cfg gets the configs, OUT/cifar_images the PNGs')
    parser.add_argument('--workers', type=int, default=0, help='dataloader workers')
    parser.add_argument('--cifar-images', type=int, default=4096,
                        help='generated 32x32 PNGs (10 classes)')
    args = parser.parse_args(argv)
    loader = dict(num_workers=args.workers, persistent_workers=args.workers > 0)
    images = osp.abspath(osp.join(args.out, 'cifar_images'))
    write_class_images(images, n=args.cifar_images, size=32)
    written = []
    os.makedirs(osp.join(args.out, 'cfg'), exist_ok=True)
    for name, cfg in (('cifar_resnet18_synthetic.py', cifar_resnet18(images, loader)),
                      ('simcc_res50_mpii_synthetic.py', simcc_res50_mpii(MPII, loader))):
        path = osp.join(args.out, 'cfg', name)
        cfg.dump(path)
        written.append(path)
    print('configs written:', *written, f'(dataloader workers: {args.workers})')
    return written


if __name__ == '__main__':
    main()
