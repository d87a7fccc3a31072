"""docs/ausam.md is the specification the code cites: every cited section exists there, and
nothing cites a file outside the repository."""
import glob
import os.path as osp
import re

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SPEC = osp.join(ROOT, 'docs', 'ausam.md')
SOURCES = [p for pattern in ('ausam_mm/**/*.py', 'configs/**/*.py', 'tools/*.py', 'tests/*.py')
           for p in glob.glob(osp.join(ROOT, pattern), recursive=True)]


def flat(path):
    """The file's text on one line (comment markers and line breaks as single spaces)."""
    with open(path) as f:
        return re.sub(r'\s*\n\s*#?\s*', ' ', f.read())


def test_every_section_the_code_cites_is_in_the_spec():
    with open(SPEC) as f:
        headings = {line.lstrip('#').strip() for line in f if line.startswith('#')}
    cited = {}
    for path in SOURCES:
        for section in re.findall(r'docs/ausam\.md(?:\'s|,)? \(?"([^"]+)"', flat(path)):
            cited.setdefault(section, []).append(osp.relpath(path, ROOT))
    assert len(cited) >= 6  # the core, the wrappers, the sampler, the hook, the configs
    missing = {s: paths for s, paths in cited.items() if s not in headings}
    assert not missing, f'sections cited but not in docs/ausam.md: {missing}'


def test_nothing_cites_the_summary_outside_the_repository():
    outside = 'AUSAM' + '.md'  # spelled apart so that this file does not cite it either
    docs = glob.glob(osp.join(ROOT, 'docs', '*.md')) + [osp.join(ROOT, 'README.md')]
    offenders = [p for p in SOURCES + docs if outside in open(p).read()]
    assert not offenders
