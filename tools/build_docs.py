"""Build the kit's HTML site from the notebooks: `make docs` → `_docs/` (git-ignored; open `_docs/index.html`).

Quarto cannot be installed offline here, so the site is made from nbdev's own notebook processing plus nbconvert:

1. **execute** (optional, per notebook): the module chapters (`nbs/NN_*.ipynb`) run top to bottom under `IN_TEST=1`
   (the kit's tiny sizes, no downloads) in the venv's own kernel, with a per-cell timeout. Cells marked
   `# NBVAL_SKIP`, `#| slow`, `#| notest` or `#| eval: false` are not run. A notebook that fails or times out is
   rendered unexecuted, with a banner saying so, and the build says which (`--strict` makes that an error).
   The experiment notebooks (papermill front-ends: their results are `reports/`) are rendered unexecuted.
   Kernels get Jupyter's inline matplotlib backend, so figures become outputs.
2. **nbdev processing**: the same processors `nbdev_proc_nbs` applies (`nbdev.processors.FilterDefaults`, run as
   nbdev's own `serve_drv` does, under `IN_TEST=1`): `show_doc` sections for every export, `#| hide` / `#| export`
   handling, frontmatter from the `# title` + `> summary` cell, links from backticked names to their docs.
   nbdev re-runs export, import and `show_doc` cells to render the `show_doc` sections and aborts the notebook when
   one fails (today `nbdev_proc_nbs` aborts on six chapters, whose test cells import *and* use earlier test state):
   here such a cell contributes only its imports, a failure is recorded in build.json, and executed outputs are kept.
   Two fixes keep what nbdev/Quarto would lose: the prose that follows the title in the first cell is kept (nbdev
   drops that whole cell), and a summary of several `>` lines is kept whole (nbdev keeps its first line).
3. **nbconvert** (lab template, no CDN): MathJax 3 is served from `_docs/_static/mathjax/` (npm package `mathjax`,
   fetched once with `npm pack` into `.cache/docs/`, or taken from `$MATHJAX_JS`); require.js, widget managers and
   mermaid are not loaded. Relative `*.ipynb` links become links to the built pages; nbdev's doc links
   (`doc_host`) and `[source]` links (`git_url`) become relative links to the built page / the repository file.
   Headings also get Quarto/pandoc-style lowercase ids, so nbdev's `page.html#symbol` anchors resolve.
4. **index**: `index.html` is `nbs/index.ipynb` followed by a generated contents list (chapters in order, experiment
   notebooks, explanations), and every page gets a navigation bar (index, previous, next).

Usage: `python tools/build_docs.py [--out _docs] [--execute auto|none] [--jobs 2] [--only NAME ...]`;
`python tools/build_docs.py --readme` writes README.md from nbs/index.ipynb instead (what `nbdev_readme` does
through Quarto). A summary with per-notebook status and seconds is written to `<out>/build.json`.
"""
import argparse, copy, html, json, os, re, shutil, subprocess, sys, tarfile, time, traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
CACHE = ROOT / '.cache' / 'docs'
MATHJAX_VERSION = '3.2.2'                     # npm `mathjax`: es5/tex-svg-full.js is one self-contained file
MATHJAX_FILE = 'tex-svg-full.js'
EXPERIMENT_ORDER = ['train', 'evaluate', 'tables', 'figures', 'failure_cases', 'mi_analysis', 'gallery', 'demo']
EXPLANATION_ORDER = ['avsbench', 'cl_cldm', 'peers', 'cpu_costs', 'assets', 'design']
SKIP_MARKS = re.compile(r'^\s*(#\s*NBVAL_SKIP|#\|\s*(slow|notest)\b|#\|\s*eval:\s*false)', re.M | re.I)

# ---------------------------------------------------------------------------------------------- the notebooks
def _first_md(nb):
    return next((c for c in nb['cells'] if c['cell_type'] == 'markdown'), None)

def _src(c): return ''.join(c['source']) if isinstance(c['source'], list) else c['source']

def title_summary(nb):
    "(title, summary) from the first markdown cell's `# title` and its `>` lines (all of them, joined)."
    c = _first_md(nb)
    if c is None: return None, None
    lines = _src(c).splitlines()
    t = next((k for k, l in enumerate(lines) if re.match(r'#\s+\S', l)), None)
    if t is None: return None, None
    quote = []
    for l in lines[t + 1:]:
        if l.startswith('>'): quote.append(l[1:].strip())
        elif l.strip(): break
    return lines[t][1:].strip(), (' '.join(q for q in quote if q) or None)

def is_chapter(nb):
    code = [_src(c) for c in nb['cells'] if c['cell_type'] == 'code']
    return bool(code) and re.match(r'\s*#\|\s*default_exp\s+\S+', code[0]) is not None

def page_name(src: Path) -> Path:
    "Where a notebook's page goes, relative to the site root: the notebook's own name (`09_diffusion.html`)."
    return src.relative_to(NBS).with_suffix('.html')

def nbdev_page(src: Path) -> str:
    "The page name nbdev's doc links use for a notebook (Quarto's naming: `09_diffusion` → `diffusion.html`)."
    return re.sub(r'^\d+[a-zA-Z0-9]*_', '', src.name.lower()).rsplit('.', 1)[0] + '.html'

def collect(only=None):
    "The site's notebooks as dicts (src, page, kind, title, summary), in reading order."
    found = []
    for p in sorted(NBS.glob('*.ipynb')) + sorted((NBS / 'explanations').glob('*.ipynb')):
        if p.name.startswith(('_', '.')): continue
        nb = json.loads(p.read_text(encoding='utf-8'))
        title, summary = title_summary(nb)
        kind = ('index' if p.parent == NBS and p.stem == 'index' else 'explanation' if p.parent.name == 'explanations'
                else 'chapter' if is_chapter(nb) else 'experiment')
        found.append(dict(src=p, page=page_name(p), kind=kind, title=title or p.stem, summary=summary))
    order = {'index': 0, 'chapter': 1, 'experiment': 2, 'explanation': 3}
    def key(d):
        pref = EXPERIMENT_ORDER if d['kind'] == 'experiment' else EXPLANATION_ORDER if d['kind'] == 'explanation' else []
        stem = d['src'].stem
        return (order[d['kind']], pref.index(stem) if stem in pref else len(pref), stem)
    found.sort(key=key)
    pages = {}
    for d in found:
        if d['page'] in pages:
            raise SystemExit(f"build_docs: {d['src'].name} and {pages[d['page']]['src'].name} would both become {d['page']}")
        pages[d['page']] = d
    if only:
        keep = set(only)
        found = [d for d in found if d['src'].stem in keep or d['src'].name in keep or str(d['page']) in keep
                 or d['kind'] == 'index']
    return found

# ------------------------------------------------------------------------------------------------- MathJax
def ensure_mathjax(dest_dir: Path) -> Path:
    "Copy MathJax's one-file TeX→SVG bundle into `dest_dir`: from $MATHJAX_JS, else from `npm pack mathjax@VERSION` (cached)."
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / MATHJAX_FILE
    given = os.environ.get('MATHJAX_JS')
    if given:
        if not Path(given).is_file(): raise SystemExit(f'build_docs: MATHJAX_JS={given} is not a file')
        shutil.copyfile(given, dest); return dest
    cached = CACHE / f'mathjax-{MATHJAX_VERSION}' / MATHJAX_FILE
    if not cached.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        tgz = CACHE / f'mathjax-{MATHJAX_VERSION}.tgz'
        if not tgz.is_file():
            npm = shutil.which('npm')
            if not npm: raise SystemExit('build_docs: MathJax is needed and npm is not installed; set MATHJAX_JS=/path/to/tex-svg-full.js')
            r = subprocess.run([npm, 'pack', f'mathjax@{MATHJAX_VERSION}', '--silent', '--pack-destination', str(CACHE)],
                               capture_output=True, text=True)
            if r.returncode != 0 or not tgz.is_file():
                raise SystemExit(f'build_docs: `npm pack mathjax@{MATHJAX_VERSION}` failed: {r.stderr.strip()[-500:]}')
        with tarfile.open(tgz) as t:
            member = t.getmember(f'package/es5/{MATHJAX_FILE}')
            data = t.extractfile(member).read()
            lic = t.extractfile(t.getmember('package/LICENSE')).read()
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix('.tmp'); tmp.write_bytes(data); tmp.replace(cached)
        (cached.parent / 'LICENSE').write_bytes(lic)
        tgz.unlink()
    shutil.copyfile(cached, dest)
    shutil.copyfile(cached.parent / 'LICENSE', dest_dir / 'LICENSE')
    return dest

# ------------------------------------------------------------------------------------------------ execution
def _kernel_env():
    env = {'IN_TEST': '1', 'MPLBACKEND': 'Agg', 'PYTHONHASHSEED': '0',
           'PYTHONPATH': os.pathsep.join([str(ROOT)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p])}
    env.setdefault('OMP_NUM_THREADS', os.environ.get('OMP_NUM_THREADS', '1'))
    return env

def execute(nb, src: Path, cell_timeout: int, kernel_name: str):
    "Run `nb` (nbformat node) in place, in the notebook's folder; marked cells are left unrun."
    from nbclient import NotebookClient
    # figures must come back as outputs: the kernel gets Jupyter's inline backend, not the Agg of `make test`
    env = dict(os.environ, MPLBACKEND='module://matplotlib_inline.backend_inline')
    skipped = {}
    for i, c in enumerate(nb.cells):
        if c.cell_type == 'code' and SKIP_MARKS.search(c.source):
            skipped[i] = c.source; c.source = ''
    try:
        NotebookClient(nb, timeout=cell_timeout, kernel_name=kernel_name, allow_errors=False, record_timing=False,
                       resources={'metadata': {'path': str(src.parent)}}).execute(env=env)
    finally:
        for i, s in skipped.items(): nb.cells[i].source = s

# ------------------------------------------------------------------------------------------- nbdev processing
def split_title_cell(nb, summary):
    """nbdev's FrontmatterProc turns the first markdown cell into frontmatter and drops the cell: keep the prose after
    the `# title` / `>` summary lines in a cell of its own, and the whole (multi-line) summary."""
    import nbformat
    c = _first_md(nb)
    if c is None: return
    lines = c.source.splitlines()
    t = next((k for k, l in enumerate(lines) if re.match(r'#\s+\S', l)), None)
    if t is None: return
    j = t + 1
    while j < len(lines) and (lines[j].startswith('>') or not lines[j].strip()): j += 1
    rest = '\n'.join(lines[j:]).strip('\n')
    c.source = '\n'.join(lines[:j]).strip('\n')
    if rest: nb.cells.insert(nb.cells.index(c) + 1, nbformat.v4.new_markdown_cell(rest))
    nb.metadata['avs_summary'] = summary

def _lenient_exec_show_docs():
    """nbdev's `exec_show_docs`, made safe for chapters whose test cells also import things.

    nbdev re-runs every export cell, every `show_doc` and every cell that contains an import in a fresh shell, to render
    the `show_doc` sections. A test cell that imports *and* uses earlier test state (nbdev warns "Found cells containing
    imports and other code") then fails there and nbdev aborts the whole notebook. Here such a cell contributes only
    its import statements, a cell that still fails is recorded (not fatal), and only `show_doc` cells take the new
    outputs, so the outputs of an executed notebook are kept."""
    import ast
    from nbdev.processors import exec_show_docs, _do_eval, _is_showdoc
    class lenient_exec_show_docs(exec_show_docs):
        errors = None
        def __call__(self, cell):
            if not self.nb.has_docs_ or not hasattr(self, 'k'): return
            fm = getattr(self.nb, 'frontmatter_', {})
            if str(fm.get('skip_showdoc', False)).lower() in ('true', '1', 'yes'): return
            if not _do_eval(cell): return
            src, outputs, count = cell.source, list(cell.get('outputs', [])), cell.get('execution_count')
            body = cell.parsed_() or []
            exported = cell.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'}
            if not exported and not _is_showdoc(cell) and any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in body):
                cell.source = '\n'.join(ast.unparse(n) for n in body if isinstance(n, (ast.Import, ast.ImportFrom)))
            try:
                self.k.cell(cell)
                if self.k.exc:
                    self.errors = (self.errors or []) + [f'cell {cell.idx_}: {type(self.k.exc).__name__}: {self.k.exc}'[:300]]
                    self.k.exc = None
            finally:
                cell.source = src
                if not _is_showdoc(cell): cell['outputs'], cell['execution_count'] = outputs, count
        def end(self):
            super().end()
            self.nb['showdoc_errors_'] = self.errors or []
    return exec_show_docs, lenient_exec_show_docs

def nbdev_process(nb_node, src: Path, links=True):
    """Apply nbdev's doc processors (what `nbdev_proc_nbs` runs per notebook) to an nbformat node; returns the new node
    and the list of cells nbdev could not re-run. `links=False` leaves out `add_links` (backticked names → links to
    `doc_host`), as the README wants."""
    import nbformat
    from execnb.nbio import dict2nb
    from nbdev.processors import FilterDefaults, add_links
    # nbdev runs the exported cells in an IPython shell whose __name__ is '__main__': a module's
    # `if __name__ == '__main__' and 'ipykernel' not in sys.modules: sys.exit(main())` would run its CLI there.
    import ipykernel  # noqa: F401  (makes that guard false, as in a notebook)
    strict_exec, lenient_exec = _lenient_exec_show_docs()
    class Procs(FilterDefaults):
        def base_procs(self):
            return [lenient_exec if p is strict_exec else p for p in super().base_procs() if links or p is not add_links]
    nb = dict2nb(json.loads(nbformat.writes(nb_node)))
    nb.path_ = str(src)
    old = os.environ.get('IN_TEST')
    os.environ['IN_TEST'] = '1'                       # as nbdev.serve_drv.main does
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='Found cells containing imports and other code')
            Procs()(nb)
        errors = list(nb.get('showdoc_errors_', []))
    finally:
        if old is None: os.environ.pop('IN_TEST', None)
        else: os.environ['IN_TEST'] = old
    d = json.loads(json.dumps(nb, default=lambda o: dict(o) if hasattr(o, 'keys') else str(o)))
    for c in d['cells']:
        c.setdefault('metadata', {})
        c.setdefault('source', '')
        if c['cell_type'] == 'code': c.setdefault('outputs', []); c.setdefault('execution_count', None)
        for k in [k for k in c if k.endswith('_')]: del c[k]
    d = {k: v for k, v in d.items() if not k.endswith('_')}
    d.setdefault('nbformat', 4); d.setdefault('nbformat_minor', 5)
    return nbformat.from_dict(d), errors

_DIRECTIVE = re.compile(r'^\s*#\|\s*([\w-]+):?\s*(.*?)\s*$')
_QUARTO_ATTR = re.compile(r'(?<=[)\]])\{[^{}\n]*?(?:style=|\.[\w-]+|#[\w-]+)[^{}\n]*\}')

_MD_LINK = re.compile(r'\[(`[^`\n]+`)\]\([^)\s]*\)')

def _unlink_in_fences(md):
    "nbdev's `add_links` also links names inside the fenced signature of a `show_doc`: put the plain name back there."
    out, fence = [], False
    for line in md.split('\n'):
        if line.lstrip().startswith('```'): fence = not fence
        elif fence: line = _MD_LINK.sub(lambda m: m.group(1).strip('`'), line)
        out.append(line)
    return '\n'.join(out)

def to_plain_notebook(nb):
    "Turn what Quarto would read (frontmatter, `#|` directives, fenced divs, `{...}` attributes) into plain cells."
    import nbformat
    cells, fm = [], {}
    for c in nb.cells:
        if c.cell_type == 'raw':
            m = re.match(r'^---\s*\n(.*?)\n---\s*$', c.source.strip(), re.S)
            if m:
                import yaml
                fm.update(yaml.safe_load(m.group(1)) or {}); continue
            continue                                   # other raw cells are not shown in HTML
        if c.cell_type == 'markdown':
            if c.source.strip() == '<!-- WARNING: THIS FILE WAS AUTOGENERATED! DO NOT EDIT! -->': continue
            c.source = '\n'.join(l for l in c.source.splitlines() if not l.startswith(':::'))
            if not c.source.strip(): continue
        if c.cell_type == 'code':
            lines, d = c.source.splitlines(), {}
            while lines and _DIRECTIVE.match(lines[0]):
                k, v = _DIRECTIVE.match(lines[0]).groups(); d[k.lower()] = v.lower(); lines.pop(0)
            c.source = '\n'.join(lines)
            if d.get('include') == 'false': continue
            if d.get('output') == 'false': c.outputs = []
            if d.get('echo') == 'false' or not c.source.strip():
                c.metadata.setdefault('transient', {})['remove_source'] = True
            if not c.source.strip() and not c.outputs: continue
            for o in c.outputs:
                md = o.get('data', {}).get('text/markdown') if o.get('output_type') in ('display_data', 'execute_result') else None
                if md is not None:
                    o['data']['text/markdown'] = _unlink_in_fences(_QUARTO_ATTR.sub('', md if isinstance(md, str) else ''.join(md)))
        cells.append(c)
    summary = nb.metadata.get('avs_summary') or fm.get('description')
    if fm.get('title'):
        head = f"# {fm['title']}" + (f"\n\n> {summary}" if summary else '')
        cells.insert(0, nbformat.v4.new_markdown_cell(head))
    nb.cells = cells
    nb.metadata.pop('avs_summary', None)
    nb.metadata['title'] = fm.get('title') or nb.metadata.get('title')
    return nb

# ---------------------------------------------------------------------------------------------- HTML output
TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
        processEscapes: true, processEnvironments: true, tags: 'ams'},
  svg: {fontCache: 'global'},
  options: {ignoreHtmlClass: 'tex2jax_ignore', processHtmlClass: 'tex2jax_process'}
};
</script>
<script src="{{ resources.avs_static }}/mathjax/tex-svg-full.js" defer></script>
{%- endblock html_head_js_mathjax -%}
{% block extra_css %}
<style type="text/css">
main { max-width: 1100px; margin: 0 auto; }
nav.avs-nav { max-width: 1100px; margin: 0 auto; padding: 8px 16px; font-family: var(--jp-ui-font-family, sans-serif);
              font-size: 14px; border-bottom: 1px solid #ddd; display: flex; gap: 1.5em; flex-wrap: wrap; }
nav.avs-nav a { text-decoration: none; }
div.avs-banner { max-width: 1100px; margin: 8px auto; padding: 6px 12px; background: #fff8e1; border: 1px solid #f0c36d;
                 font-family: var(--jp-ui-font-family, sans-serif); font-size: 14px; }
a.anchor-link { display: inline; opacity: 0; padding-left: 0.3em; text-decoration: none; }
h1:hover a.anchor-link, h2:hover a.anchor-link, h3:hover a.anchor-link, h4:hover a.anchor-link { opacity: 0.5; }
</style>
{% endblock extra_css %}
{%- block body_header -%}
{{ super() }}
{{ resources.avs_nav }}
{{ resources.avs_banner }}
{%- endblock body_header -%}
"""

def exporter():
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    return HTMLExporter(template_name='lab', extra_loaders=[DictLoader({'avs_docs.html.j2': TEMPLATE})],
                        template_file='avs_docs.html.j2', exclude_anchor_links=False,
                        exclude_input_prompt=True, exclude_output_prompt=True)

def _rel(target: Path, page_dir: Path) -> str:
    return Path(os.path.relpath(target, page_dir)).as_posix()

def _settings():
    import configparser
    cp = configparser.ConfigParser(); cp.read(ROOT / 'settings.ini')
    s = cp['DEFAULT']
    return dict(doc=(s.get('doc_host', '') + s.get('doc_baseurl', '')).rstrip('/'), git=s.get('git_url', '').rstrip('/'),
                branch=s.get('branch', 'main'))

def pandoc_id(text):
    "The identifier pandoc (Quarto) gives a heading: lower case, spaces → '-', keep letters/digits/_-., no leading non-letter."
    t = re.sub(r'[^\w\s.-]', '', text.strip().lower()).strip()
    t = re.sub(r'\s+', '-', t)
    return re.sub(r'^[^a-z]+', '', t)

_HEAD = re.compile(r'<(h[1-6])([^>]*)\bid="([^"]*)"([^>]*)>(.*?)</\1>', re.S)
_ATTR = re.compile(r'\b(href|src)="([^"]*)"')

def postprocess(page_html, item, site, out: Path, cfg):
    "Rewrite links to what exists in the built site; add pandoc-style heading ids. Returns (html, files to copy)."
    page_dir = (out / item['page']).parent
    src_dir = item['src'].parent
    by_src = {d['src'].resolve(): d for d in site}
    by_nbdev = {nbdev_page(d['src']): d for d in site if d['kind'] == 'chapter'}
    copies = []
    def fix(m):
        attr, url = m.group(1), html.unescape(m.group(2))
        if url.startswith(cfg['doc'] + '/') and cfg['doc']:
            path, _, frag = url[len(cfg['doc']) + 1:].partition('#')
            d = by_nbdev.get(path)
            if d is None: return m.group(0)
            return f'{attr}="{html.escape(_rel(out / d["page"], page_dir))}{"#" + frag if frag else ""}"'
        if cfg['git'] and url.startswith(cfg['git'] + '/blob/'):
            path = url[len(cfg['git'] + '/blob/'):].split('/', 1)[-1].partition('#')[0]
            return f'{attr}="{html.escape(_rel(ROOT / path, page_dir))}"'
        if re.match(r'^([a-z][a-z0-9+.-]*:|#|//)', url, re.I) or not url: return m.group(0)
        path, _, frag = url.partition('#')
        path = path.split('?')[0]
        target = (src_dir / path).resolve()
        if target.suffix == '.ipynb' and target in by_src:
            new = _rel(out / by_src[target]['page'], page_dir)
            return f'{attr}="{html.escape(new)}{"#" + frag if frag else ""}"'
        try: inside = target.relative_to(NBS.resolve())
        except ValueError: inside = None
        if inside is not None and target.is_file():          # an asset beside the notebooks: ship it with the page
            copies.append((target, out / inside))
            return f'{attr}="{html.escape(_rel(out / inside, page_dir))}{"#" + frag if frag else ""}"'
        return f'{attr}="{html.escape(_rel(target, page_dir))}{"#" + frag if frag else ""}"'
    page_html = _ATTR.sub(fix, page_html)
    ids = set(re.findall(r'\bid="([^"]*)"', page_html))
    def add_id(m):
        tag, pre, hid, post, inner = m.groups()
        text = html.unescape(re.sub(r'<[^>]+>', '', inner)).replace('¶', '')
        pid = pandoc_id(text)
        if pid and pid != hid and pid not in ids:
            ids.add(pid)
            return f'<{tag}{pre}id="{hid}"{post}><a id="{html.escape(pid)}"></a>{inner}</{tag}>'
        return m.group(0)
    return _HEAD.sub(add_id, page_html), copies

def unlink_dead_doclinks(out: Path):
    "nbdev links every backticked name it knows, private ones too; a link into a page with no such section becomes text."
    from html.parser import HTMLParser
    pages = {p: p.read_text(encoding='utf-8') for p in out.rglob('*.html') if '_static' not in p.parts}
    ids = {p.resolve(): set(re.findall(r'\b(?:id|name)="([^"]*)"', t)) for p, t in pages.items()}
    link = re.compile(r'<a href="([^"#]*\.html)#([^"]+)">(<code>[^<]*</code>)</a>')
    n = 0
    for p, t in pages.items():
        def fix(m):
            nonlocal n
            target = (p.parent / html.unescape(m.group(1))).resolve()
            if target in ids and html.unescape(m.group(2)) not in ids[target]:
                n += 1; return m.group(3)
            return m.group(0)
        new = link.sub(fix, t)
        if new != t: p.write_text(new, encoding='utf-8')
    return n

def nav_html(item, site, out):
    page_dir = (out / item['page']).parent
    seq = [d for d in site]
    i = next(k for k, d in enumerate(seq) if d['page'] == item['page'])
    link = lambda d, label: f'<a href="{html.escape(_rel(out / d["page"], page_dir))}">{label}</a>'
    parts = [link(seq[0], '⌂ avs_cldm'), f'<a href="{html.escape(_rel(out / "index.html", page_dir))}#contents">Contents</a>']
    if i > 0: parts.append(link(seq[i - 1], '← ' + html.escape(seq[i - 1]['title'])))
    if i + 1 < len(seq): parts.append(link(seq[i + 1], html.escape(seq[i + 1]['title']) + ' →'))
    return '<nav class="avs-nav">' + ' '.join(parts) + '</nav>'

def contents_markdown(site):
    "The index's generated contents list (links to the notebooks, relative to nbs/, rewritten like any other link)."
    groups = [('chapter', 'Chapters: the library, one module per notebook'),
              ('experiment', 'Experiment notebooks (papermill front-ends; shown unexecuted)'),
              ('explanation', 'Explanations: the sources the chapters rely on')]
    md = ['<a id="contents"></a>', '', '## Contents', '']
    for kind, head in groups:
        items = [d for d in site if d['kind'] == kind]
        if not items: continue
        md += [f'### {head}', '']
        for d in items:
            summ = f": {d['summary']}" if d['summary'] else ''
            md.append(f"* [{d['src'].stem}]({d['src'].relative_to(NBS).as_posix()}) — **{d['title']}**{summ}")
        md.append('')
    return '\n'.join(md)

# --------------------------------------------------------------------------------------------- one notebook
def build_one(item, site, out: str, execute_it: bool, cell_timeout: int, kernel_name: str):
    "Execute (maybe), process and convert one notebook. Runs in a worker process; returns a status dict."
    import nbformat
    os.chdir(ROOT)
    for k, v in _kernel_env().items(): os.environ[k] = v if k != 'OMP_NUM_THREADS' else os.environ.get(k, v)
    out = Path(out); t0 = time.monotonic()
    status = dict(notebook=str(item['src'].relative_to(ROOT)), page=item['page'].as_posix(), kind=item['kind'],
                  executed=False, error=None)
    nb = nbformat.read(item['src'], as_version=4)
    banner = ''
    if execute_it:
        run = copy.deepcopy(nb)
        try:
            execute(run, item['src'], cell_timeout, kernel_name)
            nb, status['executed'] = run, True
        except Exception as e:
            msg = re.sub(r'\x1b\[[0-9;]*m', '', str(e)).strip().splitlines()
            status['error'] = (type(e).__name__ + ': ' + ' '.join(msg[-3:]))[:500]
            banner = ('<div class="avs-banner">This page is shown <b>unexecuted</b>: running it for the docs failed '
                      f'({html.escape(type(e).__name__)}). Run the notebook yourself to see its outputs.</div>')
    status['exec_seconds'] = round(time.monotonic() - t0, 1)
    split_title_cell(nb, item['summary'])
    nb, status['showdoc_errors'] = nbdev_process(nb, item['src'])
    nb = to_plain_notebook(nb)
    if item['kind'] == 'index':
        nb.cells.append(nbformat.v4.new_markdown_cell(contents_markdown(site)))
    page_dir = (out / item['page']).parent
    page_dir.mkdir(parents=True, exist_ok=True)
    # the navigation bar and MathJax's path are relative to the site already: put them in after the link rewriting
    resources = {'avs_static': 'avs-static:', 'avs_nav': '<!-- AVS-NAV-PLACEHOLDER -->',
                 'avs_banner': banner, 'metadata': {'name': item['title'], 'path': str(item['src'].parent)}}
    body, _ = exporter().from_notebook_node(nb, resources=resources)
    body, copies = postprocess(body, item, site, out, _settings())
    body = (body.replace('"avs-static:/', '"' + _rel(out / '_static', page_dir) + '/')
                .replace('<!-- AVS-NAV-PLACEHOLDER -->', nav_html(item, site, out)))
    for s, d in copies:
        d.parent.mkdir(parents=True, exist_ok=True); shutil.copyfile(s, d)
    tmp = (out / item['page']).with_suffix('.html.tmp')
    tmp.write_text(body, encoding='utf-8'); tmp.replace(out / item['page'])
    status['seconds'] = round(time.monotonic() - t0, 1)
    return status

def _build_one_safe(*args):
    try: return build_one(*args)
    except BaseException as e:
        item = args[0]
        return dict(notebook=str(item['src'].relative_to(ROOT)), page=item['page'].as_posix(), kind=item['kind'],
                    executed=False, failed=True, error=f'{type(e).__name__}: {e}'[:2000], trace=traceback.format_exc()[-3000:])

# ------------------------------------------------------------------------------------------------- README
def build_readme(dest: Path):
    "README.md from nbs/index.ipynb: nbdev's processing, then the markdown cells joined (as `nbdev_readme` via Quarto)."
    import nbformat
    src = NBS / 'index.ipynb'
    if not src.exists(): raise SystemExit('build_docs: nbs/index.ipynb does not exist')
    nb = nbformat.read(src, as_version=4)
    title, summary = title_summary(nb)
    split_title_cell(nb, summary)
    nb = to_plain_notebook(nbdev_process(nb, src, links=False)[0])
    parts = []
    for c in nb.cells:
        if c.cell_type == 'markdown': parts.append(c.source.strip('\n'))
        elif c.cell_type == 'code' and not c.metadata.get('transient', {}).get('remove_source'):
            parts.append('```python\n' + c.source.strip('\n') + '\n```')
    text = '\n\n'.join(parts) + '\n'
    tmp = dest.with_suffix('.md.tmp'); tmp.write_text(text, encoding='utf-8'); tmp.replace(dest)
    return text

# --------------------------------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', default=str(ROOT / '_docs'), help='site folder (default _docs; emptied first)')
    ap.add_argument('--execute', choices=['auto', 'none'], default='auto',
                    help='auto: run the module chapters under IN_TEST=1 (default); none: render everything unexecuted')
    ap.add_argument('--jobs', type=int, default=min(2, os.cpu_count() or 1), help='notebooks built at once (default 2)')
    ap.add_argument('--cell-timeout', type=int, default=300, help='seconds one cell may run (default 300)')
    ap.add_argument('--kernel', default='python3', help="kernel to execute with (default python3: this venv's own)")
    ap.add_argument('--only', nargs='*', help='build only these notebooks (stem, file name or page), plus the index')
    ap.add_argument('--strict', action='store_true', help='fail when a notebook could not be executed')
    ap.add_argument('--readme', action='store_true', help='write README.md from nbs/index.ipynb and stop')
    a = ap.parse_args(argv)
    if a.readme:
        build_readme(ROOT / 'README.md'); print('build_docs: README.md written from nbs/index.ipynb'); return 0
    t0 = time.monotonic()
    site_all = collect()
    site = collect(a.only) if a.only else site_all
    out = Path(a.out).resolve()
    if out.exists() and not a.only: shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    ensure_mathjax(out / '_static' / 'mathjax')
    todo = [(d, site_all, str(out), a.execute == 'auto' and d['kind'] == 'chapter', a.cell_timeout, a.kernel) for d in site]
    # longest first keeps both workers busy: chapters (executed) before the quick markdown-only pages
    todo.sort(key=lambda t: (not t[3], str(t[0]['src'])))
    results = []
    from multiprocessing import get_context
    # the workers run nbdev's IPython shell, which replaces sys.modules['__main__']: hand them this file as a module
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import build_docs as mod
    with ProcessPoolExecutor(max_workers=max(1, a.jobs), mp_context=get_context('spawn')) as pool:
        futs = {pool.submit(mod._build_one_safe, *t): t[0] for t in todo}
        try:
            from tqdm.auto import tqdm
            it = tqdm(as_completed(futs), total=len(futs), desc='docs', unit='nb', file=sys.stderr)
        except ImportError: it = as_completed(futs)
        for f in it:
            r = f.result(); results.append(r)
            if r.get('failed'): print(f"\nbuild_docs: {r['notebook']} could not be rendered:\n{r.get('trace', r['error'])}", file=sys.stderr)
            elif r['error']: print(f"\nbuild_docs: {r['notebook']}: not executed ({r['error'][:300]}); rendered without outputs", file=sys.stderr)
    dead = unlink_dead_doclinks(out)
    results.sort(key=lambda r: r['notebook'])
    summary = dict(seconds=round(time.monotonic() - t0, 1), jobs=a.jobs, execute=a.execute, pages=len(results),
                   executed=sum(r['executed'] for r in results), unexecuted_doc_links_removed=dead, notebooks=results)
    (out / 'build.json').write_text(json.dumps(summary, indent=1))
    failed = [r for r in results if r.get('failed')]
    exec_failed = [r for r in results if r['error'] and not r.get('failed')]
    print(f"build_docs: {len(results)} pages in {out} ({summary['executed']} executed) in {summary['seconds']} s"
          + (f'; {len(exec_failed)} shown unexecuted after an error' if exec_failed else '')
          + (f'; {len(failed)} FAILED to render' if failed else ''))
    return 1 if failed or (a.strict and exec_failed) else 0

if __name__ == '__main__': sys.exit(main())
