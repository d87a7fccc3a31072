"""docs/ausam.md is the specification the code cites: every cited section exists there, and
nothing cites a file outside the repository. The benchmark page tells no history, and the
README stays a short product page with what it must show."""
import glob
import os.path as osp
import re

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SPEC = osp.join(ROOT, 'docs', 'ausam.md')
PATTERNS = ('ausam_mm/**/*.py', 'configs/**/*.py', 'tools/*.py', 'tests/**/*.py',
            'benchmarks/*.py', 'dev/*.py')
SOURCES = [p for pattern in PATTERNS
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


def table_rows(heading):
    """The ``| names | default | ... |`` rows of the table under ``heading`` in the spec."""
    with open(SPEC) as f:
        text = f.read()
    section = text.split(heading, 1)[1].split('\n\n', 2)[1]
    return [[cell.strip() for cell in line.strip('|').split('|')]
            for line in section.splitlines()[2:]]


def test_the_sampler_table_states_the_defaults_the_code_has():
    """One home per default: the sampler's and its score's signatures (``sampler_defaults``);
    the spec's table states them, every option of the sampler in a row."""
    import ast

    from ausam_mm.engine.samplers.ausam_sampler import sampler_defaults
    defaults, documented = sampler_defaults(), {}
    for names, values, _ in table_rows('### The sampler (`AUSAMBatchSampler`)'):
        names = re.findall(r'`(\w+)`', names)
        values = values.split(', ') if len(names) > 1 else [values]
        values = [v.strip('`') for v in values]
        documented.update(zip(names, values))
    assert set(documented) == set(defaults)
    for name, value in documented.items():
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):  # prose ("the inner sampler's") for a computed default
            assert defaults[name] is None, name
            continue
        assert value == defaults[name] and type(value) is type(defaults[name]), name


def read(*path):
    with open(osp.join(ROOT, *path)) as f:
        return f.read()


def test_the_benchmark_page_speaks_of_the_project_not_of_its_history():
    page = read('docs', 'benchmarks.md')
    assert not re.findall(r'\b(?:issues?|sessions?)\b', page, re.I)
    assert not re.findall(r'\b[0-2]\d:[0-5]\d\b', page)  # no clock times of runs
    assert 'benchmarks_history.md' in page  # how the files were assembled is told there


def test_readme_is_a_short_product_page_with_the_two_commands_and_the_opt_out():
    readme = read('README.md')
    assert len(readme.splitlines()) <= 150
    for needed in ('make demo', 'make test', '--ausam', 'AUSAMOptimWrapper',
                   'AUSAM_MM_CHECKPOINT_LOADER=0', 'docs/benchmarks.md', 'docs/install.md'):
        assert needed in readme, needed
    install = read('docs', 'install.md')
    for needed in ('Add ausam_mm to your existing MMPose environment', 'make test-compat',
                   'AUSAM_MM_CHECKPOINT_LOADER=0', 'tools/known_warnings.py'):
        assert needed in install, needed
