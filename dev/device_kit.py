"""The device kit: what the lent GPU machine lacks to run ``dev/gpu_check.sh`` on its own
Python 3.12 and torch, downloaded here (that machine reaches no package registry).

The kit's content is ``requirements/device-kit.txt`` (one distribution a line, with its kind
and the reason it is there; versions from ``requirements/lock.txt``), the machine's own
packages ``requirements/device-image.txt``. ``dev/device_kit.py`` is the command line
(``check``, ``build``, ``image-requirements``); ``dev/device_install.sh`` installs the kit
there with ``pip --no-index``; ``dev/gpu_check.sh`` calls it when ``KIT`` is set.

The kit is not a lock of its own: a version comes from the spec line (``NAME==VERSION``) or
else from ``requirements/lock.txt``, so the kit carries the tested stack. The repository is not
in it: it travels as the working tree and goes on ``PYTHONPATH`` (a copy could go stale).
The paths are those of a source checkout (the files under ``requirements/``).

Command line: ``python dev/device_kit.py`` (``make device-kit``).

The device kit: what the lent GPU machine lacks to run ``dev/gpu_check.sh`` on its own
Python 3.12 and torch, downloaded here (that machine reaches no package registry).

The kit's content is ``requirements/device-kit.txt`` (one distribution a line, with its kind
and the reason it is there; versions from ``requirements/lock.txt``), the machine's own
packages ``requirements/device-image.txt``. ``dev/device_install.sh`` installs the kit there
with ``pip --no-index``; ``dev/gpu_check.sh`` calls it when ``KIT`` is set.

Commands:
    check               every distribution that ``import ausam_mm, mmpose.models,
                        mmpretrain.models, brevitas`` loads in this environment (with the spec's
                        ``skip`` distributions hidden), and every one that the kit's
                        distributions declare, is on the machine or in the kit; exit 1 naming
                        the missing ones. ``tests/test_dev/test_device_kit.py`` makes the
                        same check.
    build               download the kit into ``--out`` (default ``.device-kit``, git-ignored):
                        ``wheels/`` for CPython ``--python-version`` on manylinux x86-64,
                        ``sdist/``, and ``MANIFEST.tsv`` (each file, its size and why)
    image-requirements  the machine's packages that the GPU check uses, at the machine's
                        versions where known: what ``dev/device_rehearsal.sh`` installs
                        into the stand-in virtualenv of its CPU rehearsal

The logic is ``dev.device_kit``.

Examples:
    python dev/device_kit.py check
    python dev/device_kit.py build --out .device-kit        # or: make device-kit
"""
import argparse
import configparser
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from collections import namedtuple
from importlib import metadata
from typing import Dict, Iterable, List, Optional

#: the source checkout this module belongs to
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SPEC = osp.join(ROOT, 'requirements', 'device-kit.txt')
IMAGE = osp.join(ROOT, 'requirements', 'device-image.txt')
LOCK = osp.join(ROOT, 'requirements', 'lock.txt')
#: what the GPU check imports first; everything else it runs builds on these
IMPORTS = ('ausam_mm', 'mmpose.models', 'mmpretrain.models', 'brevitas')
#: distributions whose files the kit carries, and what else a spec line may say
CARRIED = ('wheel', 'sdist', 'pin')
KINDS = CARRIED + ('alias', 'skip')
#: what dev/device_install.sh and dev/gpu_check.sh run from the machine's own packages
INSTALL_TOOLS = ('pip', 'wheel', 'cython', 'ninja', 'pytest')
PLATFORMS = ('manylinux_2_28_x86_64', 'manylinux_2_27_x86_64', 'manylinux_2_24_x86_64',
             'manylinux_2_17_x86_64', 'manylinux2014_x86_64', 'manylinux1_x86_64')
Entry = namedtuple('Entry', 'name version kind why')
LINE = re.compile(r'^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(==(?P<version>\S+))?\s*'
                  r'#\s*(?P<kind>[a-z]+):\s*(?P<why>.+)$')


def canonical(name: str) -> str:
    """PEP 503: ``PyYAML``, ``pyyaml`` and ``py_yaml`` are one distribution."""
    return re.sub(r'[-_.]+', '-', name).lower()


def read_pins(path: str) -> Dict[str, Optional[str]]:
    """``NAME==VERSION`` or ``NAME`` lines (comments and blank lines skipped)."""
    pins = {}
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                name, _, version = line.partition('==')
                pins[canonical(name)] = version or None
    return pins


def read_spec(path: str = SPEC, lock: str = LOCK) -> Dict[str, Entry]:
    """The kit's lines: ``NAME[==VERSION]  # KIND: why``; a carried line's version defaults to
    the lock file's pin."""
    pins = read_pins(lock)
    spec = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip() or line.startswith('#'):
                continue
            match = LINE.match(line.strip())
            if not match or match['kind'] not in KINDS:
                raise ValueError(f'{path}:{number}: expected "NAME[==VERSION]  # KIND: why" with '
                                 f'KIND one of {", ".join(KINDS)}, got {line.strip()!r}')
            name = canonical(match['name'])
            version = match['version'] or pins.get(name)
            if match['kind'] in CARRIED and not version:
                raise ValueError(f'{path}:{number}: {name} has no version: pin it there '
                                 f'(NAME==VERSION) or in {lock}')
            if name in spec:
                raise ValueError(f'{path}:{number}: {name} is listed twice (one version each)')
            spec[name] = Entry(name, version, match['kind'], match['why'].strip())
    return spec


def target_environment(python_version: str) -> Dict[str, str]:
    """The marker environment of the machine: CPython ``python_version`` on Linux x86-64."""
    from packaging.markers import default_environment
    env = default_environment()
    env.update(python_version=python_version, python_full_version=f'{python_version}.0',
               sys_platform='linux', platform_system='Linux', platform_machine='x86_64',
               os_name='posix', implementation_name='cpython',
               platform_python_implementation='CPython')
    return env


def requirements_of(name: str, env: Dict[str, str]) -> List[str]:
    """The distributions ``name`` (installed here) requires on the machine, extras aside."""
    from packaging.requirements import Requirement
    try:
        declared = metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        return []
    needs = []
    for text in declared:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate(dict(env, extra='')):
            needs.append(canonical(req.name))
    return needs


def project_roots() -> List[str]:
    """The frameworks of the four imports and what ``ausam_mm`` itself requires (setup.cfg)."""
    cfg = configparser.ConfigParser()
    cfg.read(osp.join(ROOT, 'setup.cfg'))
    own = [re.split(r'[<>=!~;\[ ]', line.strip())[0]
           for line in cfg['options']['install_requires'].splitlines() if line.strip()]
    return [canonical(n) for n in own + ['mmpose', 'mmpretrain', 'brevitas']]


def declared_needs(spec: Dict[str, Entry], image: Dict[str, Optional[str]],
                   python_version: str = '3.12') -> Dict[str, str]:
    """Walk the declared requirements from the project's roots through the kit's distributions
    (the machine's own are its business, ``skip`` lines stop the walk): every distribution
    reached, with one distribution that asks for it."""
    env = target_environment(python_version)
    needed = {name: 'ausam_mm' for name in project_roots()}
    todo = list(needed) + [e.name for e in spec.values() if e.kind in CARRIED]
    needed.update({name: 'the kit' for name in todo if name not in needed})
    while todo:
        name = todo.pop()
        entry = spec.get(name)
        if name in image or (entry and entry.kind in ('skip', 'alias')):
            continue
        for req in requirements_of(name, env):
            if req not in needed:
                needed[req] = name
                todo.append(req)
    return needed


def trace(imports: Iterable[str] = IMPORTS, hidden: Iterable[str] = ()) -> Dict[str, str]:
    """Import ``imports`` in this process with the distributions ``hidden`` made unimportable
    (as on a machine without them); every distribution a loaded module belongs to, with one
    such module. Call it in a fresh process (:func:`traced_needs`)."""
    os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')  # no network call at import
    owners = metadata.packages_distributions()
    for name in hidden:
        for top, dists in owners.items():
            if name in {canonical(d) for d in dists}:
                sys.modules[top] = None  # `import top` raises ImportError
    for module in imports:
        __import__(module)
    loaded = {}
    for module_name, module in list(sys.modules.items()):
        path = getattr(module, '__file__', None) or ''
        if '/site-packages/' not in path:
            continue  # the standard library, or this repository on PYTHONPATH
        top = re.split(r'[/.]', path.rsplit('/site-packages/', 1)[1], maxsplit=1)[0]
        if top.startswith('__editable__'):
            continue  # the finder of an editable install of this repository
        for dist in owners.get(top, [f'? {path}']):
            loaded.setdefault(canonical(dist), module_name)
    return loaded


#: the command line of :func:`traced_needs`'s fresh process: ``device_kit.py --trace HIDDEN...``
TRACE = '--trace'


def traced_needs(spec: Dict[str, Entry], python: str = sys.executable) -> Dict[str, str]:
    """:func:`trace` in a fresh process of ``python``, the spec's ``skip`` lines hidden."""
    hidden = [e.name for e in spec.values() if e.kind == 'skip']
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (ROOT, os.environ.get('PYTHONPATH')) if p))
    # this file run as a script: nothing is imported before the hidden ones are hidden
    proc = subprocess.run([python, osp.abspath(__file__), TRACE, *[canonical(n) for n in hidden]],
                          capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f'the imports {", ".join(IMPORTS)} failed here:\n{proc.stderr}')
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    loaded.pop('ausam-mm', None)  # this repository: it travels as the working tree
    return {name: f'module {module}' for name, module in loaded.items()}


def missing(needed: Dict[str, str], spec: Dict[str, Entry],
            image: Dict[str, Optional[str]]) -> Dict[str, str]:
    """The needed distributions that neither the machine nor a spec line accounts for."""
    return {name: why for name, why in needed.items()
            if name not in image and name not in spec}


def spec_problems(spec: Dict[str, Entry], image: Dict[str, Optional[str]]) -> List[str]:
    """Lines that contradict the machine: a wheel or sdist of a distribution the machine has
    (a ``pin``, with the reason, if a version is needed), a ``pin`` of one it lacks, an
    ``alias`` whose first word names no distribution of the machine or the kit."""
    problems = []
    for e in spec.values():
        if e.kind in ('wheel', 'sdist') and e.name in image:
            problems.append(f'{e.name}: the machine has it; carry it only as a `pin` line '
                            f'saying why its version is needed')
        if e.kind == 'pin' and e.name not in image:
            problems.append(f'{e.name}: `pin` is for a distribution the machine has; it has '
                            f'not this one: make it a `wheel` line')
        if e.kind == 'alias':
            other = canonical(e.why.split()[0])
            if other not in image and spec.get(other, e).kind not in CARRIED:
                problems.append(f'{e.name}: alias of {other!r}, which neither the machine '
                                f'nor the kit has')
    return problems


def check(spec: Dict[str, Entry], image: Dict[str, Optional[str]],
          python: str = sys.executable) -> List[str]:
    """Everything :func:`declared_needs` and :func:`traced_needs` find that is not covered,
    and the :func:`spec_problems`; empty when the kit is complete."""
    needed = dict(traced_needs(spec, python))
    needed.update({k: f'required by {v}' for k, v in declared_needs(spec, image).items()
                   if k not in needed})
    report = [f'{name} ({why}): not on the machine (requirements/device-image.txt) and not '
              f'in the kit (requirements/device-kit.txt)'
              for name, why in sorted(missing(needed, spec, image).items())]
    return report + spec_problems(spec, image)


def image_requirements(spec: Dict[str, Entry], image: Dict[str, Optional[str]],
                       python: str = sys.executable) -> List[str]:
    """The machine's distributions the GPU check uses (what the imports load, what the kit
    declares, the install tools), pinned to the machine's versions where they are known."""
    used = set(traced_needs(spec, python)) | set(declared_needs(spec, image)) | set(INSTALL_TOOLS)
    used |= {canonical(e.why.split()[0]) for e in spec.values() if e.kind == 'alias'}
    used = {name for name in used if name in image and name not in spec}
    return [f'{name}=={image[name]}' if image[name] else name for name in sorted(used)]


def download(entries: List[Entry], dest: str, python_version: str) -> None:
    pip = [sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps',
           '--disable-pip-version-check', '-d', dest]
    wheels = [f'{e.name}=={e.version}' for e in entries if e.kind != 'sdist']
    sdists = [f'{e.name}=={e.version}' for e in entries if e.kind == 'sdist']
    if wheels:
        tag = python_version.replace('.', '')
        platforms = [arg for p in PLATFORMS for arg in ('--platform', p)]
        subprocess.run(pip + ['--only-binary=:all:', '--python-version', python_version,
                              '--implementation', 'cp', '--abi', f'cp{tag}', '--abi', 'abi3',
                              '--abi', 'none', *platforms, *wheels], check=True)
    if sdists:
        # their metadata is built with this environment's torch, numpy and Cython, as
        # dev/install.sh builds them (mmcv's setup.py imports torch)
        subprocess.run(pip + ['--no-binary=:all:', '--no-build-isolation', *sdists], check=True)


def file_of(entry: Entry, files: List[str]) -> str:
    """The one downloaded file of ``entry`` (wheel names use ``_`` for ``-``)."""
    found = [f for f in files if canonical(re.split(r'-\d', f, maxsplit=1)[0]) == entry.name
             and f'-{entry.version}' in f]
    if len(found) != 1:
        raise RuntimeError(f'{entry.name}=={entry.version}: expected one file, found {found}')
    return found[0]


def build(out: str, python_version: str, spec: Dict[str, Entry]) -> List[List[str]]:
    """Download the carried lines into ``out``/wheels and ``out``/sdist (emptied first) and
    write ``out``/MANIFEST.tsv; its rows."""
    carried = [e for e in spec.values() if e.kind in CARRIED]
    rows = []
    for sub, kinds in (('wheels', ('wheel', 'pin')), ('sdist', ('sdist',))):
        dest = osp.join(out, sub)
        os.makedirs(dest, exist_ok=True)
        for old in os.listdir(dest):
            os.remove(osp.join(dest, old))
        entries = [e for e in carried if e.kind in kinds]
        download(entries, dest, python_version)
        files = sorted(os.listdir(dest))
        for e in entries:
            name = file_of(e, files)
            files.remove(name)
            rows.append([f'{sub}/{name}', str(osp.getsize(osp.join(dest, name))), e.name,
                         e.version, e.kind, e.why])
        if files:
            raise RuntimeError(f'{dest}: files no spec line asked for: {files}')
    commit = subprocess.run(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'],
                            capture_output=True, text=True).stdout.strip() or 'unknown'
    total = sum(int(r[1]) for r in rows)
    with open(osp.join(out, 'MANIFEST.tsv'), 'w') as f:
        f.write(f'# the device kit for CPython {python_version} on manylinux x86-64, written '
                f'{time.strftime("%Y-%m-%d %H:%M")} by dev/device_kit.py build from '
                f'requirements/device-kit.txt\n# {len(rows)} files, {total} bytes; the '
                f'repository ({commit}) travels as the working tree and is not in the kit\n')
        f.write('file\tbytes\tdistribution\tversion\tkind\twhy\n')
        for row in rows:
            f.write('\t'.join(row) + '\n')
    return rows


# -- command line ---------------------------------------------------------------------------

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
    if sys.argv[1:2] == [TRACE]:  # :func:`traced_needs`'s fresh process: nothing else imported
        print(json.dumps(trace(hidden=sys.argv[2:])))
    else:
        sys.exit(main())
