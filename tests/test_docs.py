"""The docs tooling: `tools/check_docs.py` must fail on each defect it promises to catch (on a tiny fake site, in a
real headless Chromium) and pass on a clean page; `tools/build_docs.py`'s pieces; README.md generated from
nbs/index.ipynb; links between notebooks (the explanations' anchors) resolve."""
import base64, json, re, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))
import build_docs, check_docs  # noqa: E402

PNG = base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==')
HEAD = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title>
<script>window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
 processEscapes: true}, svg: {fontCache: 'global'}};</script>
<script src="_static/mathjax/tex-svg-full.js" defer></script></head><body>"""
CLEAN = ('<h1 id="top">A page</h1><p>Inline $a^2 + b^2 = c^2$ and display $$\\frac{1}{2}\\sum_k x_k$$ and \\(y\\).</p>'
         '<p><a href="#top">top</a> <a href="other.html#sec">other</a> <a href="other.html">other</a> '
         '<a href="https://example.org/x">external links are not followed</a></p><img src="fig.png" alt="f">'
         '<pre>$HOME and $x$ inside pre are code, not TeX</pre><p><code>$y$</code></p>')

@pytest.fixture(scope='module')
def chromium():
    c = check_docs.find_chromium()
    if not c: pytest.skip('Chromium is not installed (apt-get install -y chromium)')
    return c

@pytest.fixture(scope='module')
def site(tmp_path_factory, chromium):
    d = tmp_path_factory.mktemp('site')
    try: build_docs.ensure_mathjax(d / '_static' / 'mathjax')
    except SystemExit as e: pytest.skip(f'no MathJax for the test site: {e}')
    (d / 'fig.png').write_bytes(PNG)
    (d / 'other.html').write_text(HEAD + '<h2 id="sec">Section</h2><p>$x$</p></body></html>')
    pages = dict(
        clean=CLEAN,
        broken_link=CLEAN + '<a href="missing.html">gone</a>',
        broken_anchor=CLEAN + '<a href="other.html#nowhere">no such section</a>',
        broken_local_anchor=CLEAN + '<a href="#nowhere">no such section here</a>',
        missing_figure=CLEAN + '<img src="figures/missing.png" alt="gone">',
        tex_error=CLEAN + '<p>$\\frac{1}$</p>',
        external=CLEAN + '<img src="https://example.org/logo.png">',
    )
    for name, body in pages.items(): (d / f'{name}.html').write_text(HEAD + body + '</body></html>')
    # unrendered: the same TeX with MathJax missing (a wrong path), and with no MathJax at all
    (d / 'no_mathjax.html').write_text(HEAD.replace('_static/mathjax/', '_static/nomathjax/') + CLEAN + '</body></html>')
    (d / 'never_typeset.html').write_text('<html><body><p>raw $\\alpha$ and \\[x^2\\]</p></body></html>')
    return d

@pytest.fixture(scope='module')
def browser(chromium):
    b = check_docs.Browser(chromium)
    yield b
    b.close()

def _defects(browser, site, page):
    defects, info = check_docs.check_page(browser, site / page)
    return defects, info

def test_clean_page_passes(browser, site):
    defects, info = _defects(browser, site, 'clean.html')
    assert defects == [], defects
    assert info['mathjax'] == 'done' and info['n_images'] == 1 and info['n_links'] == 4

@pytest.mark.parametrize('page, needle', [
    ('broken_link.html', 'broken link'),
    ('broken_anchor.html', "no element id 'nowhere' in other.html"),
    ('broken_local_anchor.html', "broken anchor '#nowhere'"),
    ('missing_figure.html', 'missing figure'),
    ('tex_error.html', 'MathJax error'),
    ('no_mathjax.html', 'unrendered equation'),
    ('never_typeset.html', 'unrendered equation'),
    ('external.html', 'must work offline'),
])
def test_each_defect_is_caught(browser, site, page, needle):
    defects, _ = _defects(browser, site, page)
    assert any(needle in d for d in defects), (page, defects)

def test_unrendered_tex_is_quoted(browser, site):
    defects, _ = _defects(browser, site, 'never_typeset.html')
    raw = [d for d in defects if 'unrendered' in d]
    assert any('$\\\\alpha$' in d for d in raw) and any('\\\\[x^2\\\\]' in d for d in raw), raw

def test_command_line_exit_codes(site, capsys):
    assert check_docs.main([str(site), '--pages', 'clean.html', 'other.html']) == 0
    assert '0 defects' in capsys.readouterr().out
    assert check_docs.main([str(site), '--pages', 'clean.html', 'missing_figure.html', 'broken_link.html']) == 1
    out = capsys.readouterr().out
    assert 'missing_figure.html: missing figure' in out and 'broken_link.html: broken link' in out and '2 defects' not in out
    assert check_docs.main([str(site / 'nothing-here')]) == 2

# --------------------------------------------------------------------------------------------- the builder
def test_page_names_and_order():
    site = build_docs.collect()
    pages = [str(d['page']) for d in site]
    assert pages[0] == 'index.html' and len(set(pages)) == len(pages)
    kinds = [d['kind'] for d in site]
    assert kinds == sorted(kinds, key=['index', 'chapter', 'experiment', 'explanation'].index)
    chapters = [d['src'].stem for d in site if d['kind'] == 'chapter']
    assert chapters == sorted(chapters) and '09_diffusion' in chapters
    assert 'explanations/avsbench.html' in pages
    test = next(d for d in site if d['src'].stem == '09_diffusion')
    assert build_docs.nbdev_page(test['src']) == 'diffusion.html' and test['title'] == 'diffusion'

def test_pandoc_ids():
    assert build_docs.pandoc_id('Config.validate') == 'config.validate'
    assert build_docs.pandoc_id('Forward process (Eq. 5)') == 'forward-process-eq.-5'
    assert build_docs.pandoc_id('12 steps') == 'steps'

def test_title_cell_keeps_its_prose():
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('#| default_exp x'),
                nbformat.v4.new_markdown_cell('# x\n\n> one line\n> and two\n\nProse that nbdev would drop.\n\nMore.')]
    assert build_docs.title_summary(nb) == ('x', 'one line and two')
    build_docs.split_title_cell(nb, 'one line and two')
    assert [c.source for c in nb.cells[1:]] == ['# x\n\n> one line\n> and two', 'Prose that nbdev would drop.\n\nMore.']

def test_links_inside_signatures_are_undone():
    md = 'See [`f`](https://h/x.html#f).\n```python\ndef g(a, # from [`f`](https://h/x.html#f)\n```\n[`f`](u)'
    assert build_docs._unlink_in_fences(md) == 'See [`f`](https://h/x.html#f).\n```python\ndef g(a, # from f\n```\n[`f`](u)'

def test_readme_is_generated_from_index(tmp_path):
    "README.md is nbs/index.ipynb rendered (`make readme`): edit the notebook, not the README."
    out = build_docs.build_readme(tmp_path / 'README.md')
    assert out == (ROOT / 'README.md').read_text(encoding='utf-8'), 'README.md differs from nbs/index.ipynb: run `make readme`'

# ------------------------------------------------------------------------------------ links between notebooks
def _markdown(p):
    return '\n'.join(''.join(c['source']) for c in json.loads(p.read_text())['cells'] if c['cell_type'] == 'markdown')

def _anchors(p):
    return set(re.findall(r'<a\s+(?:id|name)="([^"]+)"', _markdown(p)))

def test_explanations_are_markdown_chapters_with_unique_anchors():
    notes = sorted((ROOT / 'nbs' / 'explanations').glob('*.ipynb'))
    assert {p.stem for p in notes} >= {'avsbench', 'cl_cldm', 'peers', 'cpu_costs', 'assets', 'design'}
    for p in notes:
        cells = json.loads(p.read_text())['cells']
        assert all(c['cell_type'] == 'markdown' for c in cells), f'{p.name}: explanations hold no code'
        first = ''.join(cells[0]['source'])
        assert first.startswith('# ') and '\n> ' in first, f'{p.name}: first cell must be "# title" then "> summary"'
        ids = re.findall(r'<a\s+id="([^"]+)"', _markdown(p))
        assert len(ids) == len(set(ids)) and len(ids) >= 5, f'{p.name}: anchors must be unique (and there)'

def test_relative_notebook_links_resolve():
    "Every relative link from one notebook to another exists; an #anchor into an explanation names one of its anchors."
    bad = []
    for p in sorted((ROOT / 'nbs').rglob('*.ipynb')):
        if '.ipynb_checkpoints' in p.parts: continue
        for target, frag in re.findall(r'\]\(([^)#\s]*\.ipynb)(?:#([^)\s]+))?\)', _markdown(p)):
            if re.match(r'^[a-z]+:', target): continue
            t = (p.parent / target).resolve()
            if not t.exists(): bad.append(f'{p.relative_to(ROOT)}: {target} does not exist'); continue
            if frag and t.parent.name == 'explanations' and frag not in _anchors(t):
                bad.append(f'{p.relative_to(ROOT)}: {target}#{frag}: no such anchor')
        for frag in re.findall(r'\]\(#([^)\s]+)\)', _markdown(p)):
            if p.parent.name == 'explanations' and frag not in _anchors(p):
                bad.append(f'{p.relative_to(ROOT)}: #{frag}: no such anchor')
    assert not bad, '\n'.join(bad)
