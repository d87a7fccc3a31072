"""AUSAM's costs as the dataset and the number of ranks grow, as ratios to the work they serve,
measured in one invocation (docs/benchmarks.md, "At scale").

1. ``coco``: a COCO-keypoints annotation file of train2017's size (56,599 images, 149,813
   person instances, the test images' annotations repeated), MMPose's ``CocoDataset`` build
   against the dataset identity AUSAM keeps with its scores (``IndexedDataset.fingerprint``),
   and optionally (``--legacy``) the identity of ausam_mm <= 0.2.0.
2. ``sizes``: at 10k, 100k and 1M samples (an MMEngine dataset of pose-like data infos,
   serialized as MMEngine holds them), the start-up of a base run (``DefaultSampler``, the
   first batch of indices) and of an AUSAM run (``IndexedDataset``, ``AUSAMBatchSampler`` with
   its identity and score history, the first batch), the score history's checkpoint size and
   the time to save and resume it, next to the dataset's own build and size.
3. ``ranks``: the per-step score exchange of AUSAM (every rank's indices and DLPs gathered,
   ``all_gather_object``, then the history updated) at 1, 2, 4 and 8 gloo processes on the CPU
   (the code path of NCCL's), against the all-reduce of a ResNet-18's gradients (11.2 M floats),
   the communication of the base optimizer's DDP step.

Command line: ``python -m benchmarks.scale`` (from the repository root).

Examples:
    python -m benchmarks.scale --out results/scale.json
    python -m benchmarks.scale --parts ranks --ranks 1 2 --steps 5      # a quick look
"""
import argparse
import copy
import io
import json
import os
import os.path as osp
import platform
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.dataset import BaseDataset, DefaultSampler

from ausam_mm.engine import AUSAMBatchSampler, IndexedDataset
from ausam_mm.engine.optim_wrappers.ausam import all_gather_posts
from ausam_mm.core.history import ScoreHistory

from .label_noise import write_json

PARTS = ('coco', 'sizes', 'ranks')
COCO_SIZE = dict(images=56599, instances=149813)
SAMPLE = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tests', 'data', 'coco',
                  'test_coco.json')


def cpu_seconds(fn: Callable[[], object]) -> float:
    """The process CPU time of ``fn()`` (robust to other load on a shared machine)."""
    start = time.process_time()
    fn()
    return time.process_time() - start


# -- 1. COCO's size ----------------------------------------------------------------------------

def write_coco_annotations(path: str, images: int, instances: int) -> None:
    """A COCO-keypoints file of ``images`` images and ``instances`` person annotations: the
    annotations of tests/data/coco repeated, each image and annotation with its own id."""
    with open(SAMPLE) as f:
        sample = json.load(f)
    out_images, out_anns = [], []
    per_image = instances / images
    for i in range(images):
        base = sample['images'][i % len(sample['images'])]
        out_images.append(dict(base, id=i + 1, file_name=f'{i + 1:012d}.jpg'))
        for _ in range(int(round((i + 1) * per_image)) - len(out_anns)):
            ann = copy.deepcopy(sample['annotations'][len(out_anns) % len(sample['annotations'])])
            ann.update(image_id=i + 1, id=len(out_anns) + 1)
            out_anns.append(ann)
    with open(path, 'w') as f:
        json.dump(dict(sample, images=out_images, annotations=out_anns), f)


def coco_part(work_dir: str, legacy: bool = False, log: Callable = print) -> Dict:
    from mmpose.datasets import CocoDataset
    ann = osp.join(work_dir, 'coco_train2017_size.json')
    if not osp.isfile(ann):
        log('[scale] writing the COCO-size annotation file ...')
        write_coco_annotations(ann, **COCO_SIZE)
    built = {}
    build_s = cpu_seconds(lambda: built.setdefault('d', CocoDataset(
        data_root=work_dir, ann_file=osp.basename(ann), data_prefix=dict(img='train2017/'),
        data_mode='topdown', pipeline=[])))
    dataset = IndexedDataset(built['d'])
    identity_s = cpu_seconds(dataset.fingerprint)
    row = dict(images=COCO_SIZE['images'], instances_in_file=COCO_SIZE['instances'],
               samples=len(dataset), build_cpu_s=build_s, identity_cpu_s=identity_s,
               identity_vs_build=identity_s / build_s,
               serialized_mb=built['d'].data_bytes.nbytes / 2 ** 20)
    if legacy:
        row['legacy_identity_cpu_s'] = cpu_seconds(dataset.legacy_fingerprint)
        row['legacy_vs_build'] = row['legacy_identity_cpu_s'] / build_s
    log(f"[scale] coco: build {build_s:.1f} CPU s, identity {identity_s:.2f} CPU s "
        f"({100 * row['identity_vs_build']:.1f} % of the build)")
    return row


# -- 2. dataset sizes -------------------------------------------------------------------------

class PoseLikeDataset(BaseDataset):
    """``size`` data infos shaped like a top-down pose dataset's (an image path, a box, 17
    keypoints and their visibility), generated; no files are read."""

    def __init__(self, size: int, root: str = '/data/coco/train2017', **kwargs) -> None:
        self.size, self.root = size, root
        super().__init__(pipeline=[], **kwargs)

    def load_data_list(self) -> List[dict]:
        rng = np.random.default_rng(0)
        points = rng.uniform(0, 640, size=(self.size, 17, 2)).astype(np.float32)
        return [dict(img_path=f'{self.root}/{i:012d}.jpg', id=i,
                     bbox=np.array([[1., 2., 300., 400.]], np.float32),
                     keypoints=points[i:i + 1], keypoints_visible=np.ones((1, 17), np.float32))
                for i in range(self.size)]

    def __getitem__(self, idx: int) -> int:
        return int(idx)  # the start-up is measured up to the first batch's indices


def first_batch(sampler) -> List[int]:
    return next(iter(sampler))


def size_row(size: int, batch: int = 64) -> Dict:
    """One size of part 2: CPU seconds and bytes, and the ratios the table shows."""
    built = {}
    build_s = cpu_seconds(lambda: built.setdefault('d', PoseLikeDataset(size)))
    dataset = built['d']
    base_s = cpu_seconds(lambda: first_batch(torch.utils.data.BatchSampler(
        DefaultSampler(dataset, shuffle=True, seed=0), batch, False)))
    made = {}

    def ausam_start():
        wrapped = IndexedDataset(dataset)
        made['s'] = AUSAMBatchSampler(DefaultSampler(wrapped, shuffle=True, seed=0), batch)
        made['s'].link()
        made['s'].set_epoch(0)
        first_batch(made['s'])
    ausam_s = cpu_seconds(ausam_start)
    sampler = made['s']
    buffer = io.BytesIO()
    save_s = cpu_seconds(lambda: torch.save(sampler.history.state_dict(), buffer))
    buffer.seek(0)
    fresh = ScoreHistory(size, fingerprint=sampler.history.fingerprint)
    resume_s = cpu_seconds(lambda: fresh.load_state_dict(torch.load(buffer, weights_only=True)))
    return dict(samples=size, dataset_build_cpu_s=build_s,
                dataset_serialized_mb=dataset.data_bytes.nbytes / 2 ** 20,
                base_startup_cpu_s=base_s, ausam_startup_cpu_s=ausam_s,
                ausam_extra_vs_build=(ausam_s - base_s) / build_s,
                history_checkpoint_mb=buffer.getbuffer().nbytes / 2 ** 20,
                history_bytes_per_sample=buffer.getbuffer().nbytes / size,
                history_vs_dataset=buffer.getbuffer().nbytes / dataset.data_bytes.nbytes,
                history_save_cpu_s=save_s, history_resume_cpu_s=resume_s,
                history_resume_vs_build=resume_s / build_s)


def sizes_part(sizes: Sequence[int], log: Callable = print) -> List[Dict]:
    rows = []
    for size in sizes:
        rows.append(size_row(size))
        r = rows[-1]
        log(f"[scale] {size} samples: build {r['dataset_build_cpu_s']:.2f} s, start-up base "
            f"{r['base_startup_cpu_s']:.3f} s, AUSAM {r['ausam_startup_cpu_s']:.3f} s; history "
            f"{r['history_checkpoint_mb']:.2f} MB, resume {r['history_resume_cpu_s']:.3f} s")
    return rows


# -- 3. ranks ---------------------------------------------------------------------------------

def _rank_main(rank: int, world: int, port: int, steps: int, per_rank: int, size: int,
               params: int, out: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world)
    history = ScoreHistory(size)
    grads = torch.zeros(params)
    rng = np.random.default_rng(rank)
    exchange, reduce = [], []
    for step in range(steps + 2):  # two untimed
        indices = rng.choice(size, per_rank, replace=False).tolist()
        dlp = torch.rand(per_rank, dtype=torch.float64)
        dist.barrier()
        t = time.perf_counter()
        history.update(*all_gather_posts(indices, dlp))
        dist.barrier()
        spent = time.perf_counter() - t
        t = time.perf_counter()
        dist.all_reduce(grads)
        dist.barrier()
        if step >= 2:
            exchange.append(spent)
            reduce.append(time.perf_counter() - t)
    if rank == 0:
        with open(out, 'w') as f:
            json.dump(dict(exchange=exchange, allreduce=reduce), f)
    dist.barrier()
    dist.destroy_process_group()


def ranks_part(ranks: Sequence[int], steps: int = 20, per_rank: int = 32, size: int = 100_000,
               params: int = 11_200_000, log: Callable = print) -> List[Dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for world in ranks:
            out = osp.join(tmp, f'{world}.json')
            port = 29700 + (os.getpid() + world) % 200
            mp.start_processes(_rank_main, args=(world, port, steps, per_rank, size, params, out),
                               nprocs=world, join=True, start_method='spawn')
            with open(out) as f:
                times = json.load(f)
            exchange, reduce = np.median(times['exchange']), np.median(times['allreduce'])
            ratio = exchange / reduce if world > 1 else None  # one process: no communication
            rows.append(dict(ranks=world, samples_per_rank=per_rank, history_size=size,
                             exchange_ms=1e3 * exchange, allreduce_ms=1e3 * reduce,
                             exchange_vs_allreduce=ratio, steps=steps))
            log(f'[scale] {world} rank(s): score exchange {1e3 * exchange:.2f} ms, gradient '
                f'all-reduce {1e3 * reduce:.1f} ms')
    return rows


# -- report -----------------------------------------------------------------------------------

def table(report: Dict) -> str:
    lines = []
    if report.get('coco'):
        c = report['coco']
        lines += [f"COCO train2017 size ({c['samples']} top-down samples): CocoDataset build "
                  f"{c['build_cpu_s']:.1f} CPU s, AUSAM's dataset identity "
                  f"{c['identity_cpu_s']:.2f} CPU s = {100 * c['identity_vs_build']:.1f} % of it"
                  + (f" (ausam_mm 0.2.0's: {c['legacy_identity_cpu_s']:.1f} s = "
                     f"{100 * c['legacy_vs_build']:.0f} %)" if 'legacy_vs_build' in c else '')]
    if report.get('sizes'):
        lines.append(f"{'samples':>9} {'build s':>8} {'base start s':>12} {'AUSAM start s':>13} "
                     f"{'extra/build':>11} {'history MB':>10} {'B/sample':>8} "
                     f"{'history/data':>12} {'resume s':>8}")
        for r in report['sizes']:
            lines.append(f"{r['samples']:>9} {r['dataset_build_cpu_s']:>8.2f} "
                         f"{r['base_startup_cpu_s']:>12.3f} {r['ausam_startup_cpu_s']:>13.3f} "
                         f"{100 * r['ausam_extra_vs_build']:>10.1f}% "
                         f"{r['history_checkpoint_mb']:>10.2f} "
                         f"{r['history_bytes_per_sample']:>8.1f} "
                         f"{100 * r['history_vs_dataset']:>11.1f}% "
                         f"{r['history_resume_cpu_s']:>8.3f}")
    if report.get('ranks'):
        lines.append(f"{'ranks':>5} {'score exchange ms':>17} {'grad all-reduce ms':>18} "
                     f"{'ratio':>7}")
        for r in report['ranks']:
            ratio = r['exchange_vs_allreduce']
            lines.append(f"{r['ranks']:>5} {r['exchange_ms']:>17.2f} {r['allreduce_ms']:>18.1f} "
                         + (f"{100 * ratio:>6.1f}%" if ratio is not None else f"{'-':>7}"))
    return '\n'.join(lines)


def run(parts: Sequence[str], sizes: Sequence[int], ranks: Sequence[int], steps: int,
        work_dir: str, legacy: bool = False, out: Optional[str] = None) -> Dict:
    import ausam_mm  # noqa: F401  (registers)
    report = dict(benchmark='AUSAM at scale', torch=torch.__version__,
                  device=f'CPU ({platform.processor() or platform.machine()}, '
                         f'{os.cpu_count()} cores)')
    if 'coco' in parts:
        report['coco'] = coco_part(work_dir, legacy)
    if 'sizes' in parts:
        report['sizes'] = sizes_part(sizes)
    if 'ranks' in parts:
        report['ranks'] = ranks_part(ranks, steps)
    report['table'] = table(report)
    if out:
        write_json(out, report)
    return report


def main(argv: Optional[List[str]] = None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--parts', nargs='+', choices=PARTS, default=list(PARTS))
    parser.add_argument('--sizes', nargs='+', type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument('--ranks', nargs='+', type=int, default=[1, 2, 4, 8])
    parser.add_argument('--steps', type=int, default=20, help='timed steps per rank count')
    parser.add_argument('--legacy', action='store_true',
                        help="also time ausam_mm 0.2.0's dataset identity (about 2 minutes)")
    parser.add_argument('--work-dir', default='work_dirs/scale',
                        help='where the COCO-size annotation file is written (177 MB)')
    parser.add_argument('--out', help='JSON to write')
    args = parser.parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    torch.set_num_threads(1)
    report = run(args.parts, args.sizes, args.ranks, args.steps, args.work_dir, args.legacy,
                 args.out)
    print(report['table'])
    return report


if __name__ == '__main__':
    main()
