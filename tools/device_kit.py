"""The device kit: what the lent GPU machine lacks to run ``tools/gpu_check.sh`` on its own
Python 3.12 and torch, downloaded here (that machine reaches no package registry).

The kit's content is ``requirements/device-kit.txt`` (one distribution a line, with its kind
and the reason it is there; versions from ``requirements/lock.txt``), the machine's own
packages ``requirements/device-image.txt``. ``tools/device_install.sh`` installs the kit there
with ``pip --no-index``; ``tools/gpu_check.sh`` calls it when ``KIT`` is set.

Commands:
    check               every distribution that ``import ausam_mm, mmpose.models,
                        mmpretrain.models, brevitas`` loads in this environment (with the spec's
                        ``skip`` distributions hidden), and every one that the kit's
                        distributions declare, is on the machine or in the kit; exit 1 naming
                        the missing ones. ``tests/test_device_kit.py`` makes the same check.
    build               download the kit into ``--out`` (default ``.device-kit``, git-ignored):
                        ``wheels/`` for CPython ``--python-version`` on manylinux x86-64,
                        ``sdist/``, and ``MANIFEST.tsv`` (each file, its size and why)
    image-requirements  the machine's packages that the GPU check uses, at the machine's
                        versions where known: what ``tools/device_rehearsal.sh`` installs
                        into the stand-in virtualenv of its CPU rehearsal

The logic is ``ausam_mm.benchmark.device_kit``.

Examples:
    python tools/device_kit.py check
    python tools/device_kit.py build --out .device-kit        # or: make device-kit
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from ausam_mm.benchmark.device_kit import IMAGE, LOCK, ROOT, SPEC, build, check, \
    image_requirements, read_pins, read_spec


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('command', choices=['check', 'build', 'image-requirements'])
    parser.add_argument('--spec', default=SPEC, help='the kit spec (default: %(default)s)')
    parser.add_argument('--image', default=IMAGE, help="the machine's packages")
    parser.add_argument('--lock', default=LOCK, help='versions of lines without ==VERSION')
    parser.add_argument('--out', default=osp.join(ROOT, '.device-kit'), help='build: the kit')
    parser.add_argument('--python-version', default='3.12', help="the machine's Python X.Y")
    args = parser.parse_args(argv)
    spec, image = read_spec(args.spec, args.lock), read_pins(args.image)
    if args.command == 'image-requirements':
        print('\n'.join(image_requirements(spec, image)))
        return 0
    problems = check(spec, image)
    for line in problems:
        print(f'device kit: {line}', file=sys.stderr)
    if args.command == 'check' or problems:
        print(f'device kit: {"incomplete" if problems else "complete"} '
              f'({len(spec)} spec lines, {len(image)} packages on the machine)')
        return 1 if problems else 0
    rows = build(args.out, args.python_version, spec)
    total = sum(int(r[1]) for r in rows)
    print(f'{args.out}: {len(rows)} files, {total / 2 ** 20:.1f} MiB '
          f'(list: {osp.join(args.out, "MANIFEST.tsv")})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
