"""Check the built docs site (`make docs` → `_docs/`) in a real browser: headless Chromium, driven over the
Chrome DevTools protocol on a pipe (`--remote-debugging-pipe`; no websocket library, no npm, no driver).

Every page checked is opened from disk (file://), left to load, and MathJax is awaited. The check FAILS (exit 1,
one line per defect) on:

* **a broken link**: a relative `href` whose file does not exist, or whose `#fragment` names no element id /
  `<a name>` in the target page (fragments into non-HTML files, e.g. `x.py#L20`, are not checked);
* **a missing figure**: an `<img>` that did not load (`complete` and `naturalWidth > 0`), or any resource
  (script, style sheet, image, font) whose load failed;
* **an unrendered equation**: TeX left as raw text (`$…$`, `$$…$$`, `\\(…\\)`, `\\[…\\]`, `\\begin{…}`) where MathJax
  would have typeset it (anything outside `pre`/`code`/`script`/`style`/`textarea`), or MathJax's error marker
  (`merror` nodes: a TeX syntax error or an unknown macro), or MathJax not finishing;
* **a page that is not offline**: any request to a non-file URL (http(s), ws…: the site must work with no network);
* a JavaScript exception thrown while the page loads.

Usage: `python tools/check_docs.py [SITE] [--pages index.html diffusion.html ...]` (default SITE `_docs`, default
pages: every `*.html` under SITE). Prints one summary line (`N pages checked, M defects`) and exits 0 only when clean.
"""
import argparse, json, os, re, select, shutil, subprocess, sys, tempfile, time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--disable-extensions', '--disable-default-apps', '--mute-audio', '--hide-scrollbars']

def find_chromium(explicit=None):
    for c in [explicit, os.environ.get('CHROMIUM'), 'chromium', 'chromium-browser', 'google-chrome', 'chrome']:
        if c and shutil.which(c): return shutil.which(c)
    return None

class ChromiumError(RuntimeError): pass

class Browser:
    "A headless Chromium and a minimal, synchronous DevTools-protocol client over `--remote-debugging-pipe`."
    def __init__(self, chromium, timeout=30.0):
        self.timeout, self._id, self._buf, self.events = timeout, 0, b'', []
        self.profile = tempfile.mkdtemp(prefix='check_docs_profile_')
        r_cmd, w_cmd = os.pipe()                     # we write commands → Chromium reads its fd 3
        r_out, w_out = os.pipe()                     # Chromium writes its fd 4 → we read
        def _child_fds():                            # runs in the child between fork and exec
            a, b = os.dup(r_cmd), os.dup(w_out)      # dup first: r_cmd/w_out may themselves be 3 or 4
            os.dup2(a, 3); os.dup2(b, 4)
        self.log = open(Path(self.profile) / 'chromium.log', 'w+b')  # a file, not a pipe: a chatty browser never blocks
        self.proc = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f'--user-data-dir={self.profile}',
                                      '--remote-debugging-pipe', 'about:blank'],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     preexec_fn=_child_fds, close_fds=False)
        os.close(r_cmd); os.close(w_out)
        self.w, self.r = w_cmd, r_out
        try: self.send('Target.setDiscoverTargets', {'discover': False})
        except Exception:
            self.log.seek(0); err = self.log.read().decode(errors='replace')[-2000:]
            self.close(); raise ChromiumError(f'{chromium} did not answer on the DevTools pipe. {err}')

    def _read_message(self, deadline):
        while b'\0' not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0: raise TimeoutError('no answer from Chromium')
            ready, _, _ = select.select([self.r], [], [], left)
            if not ready: continue
            chunk = os.read(self.r, 1 << 20)
            if not chunk: raise ChromiumError(f'Chromium exited (code {self.proc.poll()})')
            self._buf += chunk
        msg, self._buf = self._buf.split(b'\0', 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None, timeout=None):
        self._id += 1
        msg = {'id': self._id, 'method': method, 'params': params or {}}
        if session: msg['sessionId'] = session
        os.write(self.w, json.dumps(msg).encode() + b'\0')
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._read_message(deadline)
            if m.get('id') == self._id:
                if 'error' in m: raise ChromiumError(f"{method}: {m['error'].get('message')}")
                return m.get('result', {})
            self.events.append(m)

    def wait_event(self, method, session, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, e in enumerate(self.events):
                if e.get('method') == method and e.get('sessionId') == session: return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    def close(self):
        try:
            if self.proc.poll() is None:
                try: self.send('Browser.close', timeout=5)
                except Exception: pass
                try: self.proc.wait(5)
                except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        finally:
            for fd in (getattr(self, 'w', None), getattr(self, 'r', None)):
                if fd is not None:
                    try: os.close(fd)
                    except OSError: pass
            self.log.close()
            shutil.rmtree(self.profile, ignore_errors=True)

# Runs inside the page once it has loaded: waits for MathJax, then collects links, images and raw-TeX leftovers.
# The skipped tags are MathJax's own `skipHtmlTags` (what it would never typeset), plus its output elements.
PAGE_PROBE = r"""
(async () => {
  const out = {mathjax: null, links: [], images: [], rawtex: [], merrors: [], ids: []};
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    const t0 = Date.now();
    try { await Promise.race([MathJax.startup.promise,
                              new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), MATHJAX_TIMEOUT))]);
          out.mathjax = 'done'; }
    catch (e) { out.mathjax = 'failed: ' + e; }
  }
  for (const a of document.querySelectorAll('a[href]'))
    out.links.push({href: a.getAttribute('href'), url: a.href, text: (a.textContent || '').trim().slice(0, 60)});
  for (const img of document.images)
    out.images.push({src: img.getAttribute('src') ? img.getAttribute('src').slice(0, 200) : '', ok: img.complete && img.naturalWidth > 0});
  for (const e of document.querySelectorAll('[id]')) out.ids.push(e.id);
  for (const e of document.querySelectorAll('a[name]')) out.ids.push(e.getAttribute('name'));
  for (const e of document.querySelectorAll('mjx-merror, [data-mjx-error], [data-mml-node="merror"]'))
    out.merrors.push((e.getAttribute('data-mjx-error') || e.getAttribute('title') || e.textContent || '').slice(0, 120));
  const SKIP = new Set(['SCRIPT', 'NOSCRIPT', 'STYLE', 'TEXTAREA', 'PRE', 'CODE', 'ANNOTATION', 'ANNOTATION-XML',
                        'MJX-CONTAINER', 'MJX-ASSISTIVE-MML', 'SVG', 'MATH', 'TITLE', 'HEAD']);
  const BLOCK = /^(P|LI|TD|TH|DT|DD|H[1-6]|BLOCKQUOTE|DIV|SECTION|BODY|MAIN|FIGCAPTION|CAPTION)$/;
  const texts = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {acceptNode(n) {
    for (let p = n.parentElement; p; p = p.parentElement) {
      if (SKIP.has(p.tagName.toUpperCase()) || p.classList.contains('tex2jax_ignore')) return NodeFilter.FILTER_REJECT;
    }
    return NodeFilter.FILTER_ACCEPT; }});
  for (let n; (n = walker.nextNode()); ) {
    let b = n.parentElement; while (b && !BLOCK.test(b.tagName.toUpperCase())) b = b.parentElement;
    texts.set(b, (texts.get(b) || '') + n.nodeValue);
  }
  const TEX = /\$\$[\s\S]+?\$\$|\$[^\s$][^$]*?\$|\\\([\s\S]+?\\\)|\\\[[\s\S]+?\\\]|\\begin\{[a-z*]+\}/g;
  for (const [b, t] of texts) for (const m of t.matchAll(TEX)) out.rawtex.push(m[0].slice(0, 80));
  return JSON.stringify(out);
})()
"""

class _Ids(HTMLParser):
    def __init__(self):
        super().__init__(); self.ids = set()
    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        if d.get('id'): self.ids.add(d['id'])
        if tag == 'a' and d.get('name'): self.ids.add(d['name'])

_id_cache = {}
def static_ids(path):
    "Element ids (and `<a name>`s) of an HTML file, read without a browser (for links into other pages)."
    path = Path(path).resolve()
    if path not in _id_cache:
        p = _Ids(); p.feed(path.read_text(encoding='utf-8', errors='replace')); _id_cache[path] = p.ids
    return _id_cache[path]

def _is_html(p): return p.suffix.lower() in ('.html', '.htm')

def check_link(link, page, page_ids):
    "None if the link is fine (or not ours to check), else a message."
    href, url = link['href'], link['url']
    scheme = urlsplit(href).scheme.lower()
    if scheme in ('http', 'https', 'mailto', 'javascript', 'data', 'tel', 'ftp'): return None
    if href.startswith('#'):              # a browser tries the fragment as written, then percent-decoded
        return None if href == '#' or {href[1:], unquote(href[1:])} & page_ids else f'broken anchor {href!r} (no element with that id in this page)'
    u = urlsplit(url)
    if u.scheme != 'file': return f'link {href!r} resolves to {url!r}, not a file'
    target = Path(unquote(u.path))
    if target.is_dir(): target = target / 'index.html'
    if not target.exists(): return f'broken link {href!r}: {target} does not exist'
    if u.fragment and _is_html(target):
        ids = page_ids if target.resolve() == Path(page).resolve() else static_ids(target)
        if not {u.fragment, unquote(u.fragment)} & ids: return f'broken anchor {href!r}: no element id {unquote(u.fragment)!r} in {target.name}'
    return None

def check_page(browser, page, timeout=30.0, mathjax_timeout=20.0, screenshot=None):
    "Open one page; return (list of defect messages, info dict). `screenshot`: a .png path for the top of the page."
    page = Path(page).resolve()
    url = page.as_uri()
    t = browser.send('Target.createTarget', {'url': 'about:blank'})
    sid = browser.send('Target.attachToTarget', {'targetId': t['targetId'], 'flatten': True})['sessionId']
    defects, t0 = [], time.monotonic()
    try:
        for dom in ('Page', 'Network', 'Runtime'): browser.send(f'{dom}.enable', session=sid)
        browser.events.clear()
        nav = browser.send('Page.navigate', {'url': url}, session=sid)
        if nav.get('errorText'): return [f'cannot open {url}: {nav["errorText"]}'], {}
        try:
            browser.wait_event('Page.loadEventFired', sid, timeout)
            res = browser.send('Runtime.evaluate', {'expression': PAGE_PROBE.replace('MATHJAX_TIMEOUT', str(int(mathjax_timeout * 1000))),
                                                    'awaitPromise': True, 'returnByValue': True},
                               session=sid, timeout=timeout + mathjax_timeout)
        except TimeoutError:
            return [f'the page did not finish loading within {timeout:.0f} s'], {}
        if 'exceptionDetails' in res: return [f'page probe failed: {res["exceptionDetails"].get("text")}'], {}
        info = json.loads(res['result']['value'])
        if screenshot:
            import base64
            browser.send('Emulation.setDeviceMetricsOverride', {'width': 1200, 'height': 1600, 'deviceScaleFactor': 1,
                                                                'mobile': False}, session=sid)
            shot = browser.send('Page.captureScreenshot', {'format': 'png'}, session=sid)
            Path(screenshot).write_bytes(base64.b64decode(shot['data']))
        # drain pending events (network failures, exceptions) that arrived before the probe finished
        browser.send('Runtime.evaluate', {'expression': '1'}, session=sid)
        events = [e for e in browser.events if e.get('sessionId') == sid]
        browser.events = [e for e in browser.events if e.get('sessionId') != sid]
    finally:
        try: browser.send('Target.closeTarget', {'targetId': t['targetId']})
        except Exception: pass
    requests = {}
    for e in events:
        m, p = e.get('method'), e.get('params', {})
        if m == 'Network.requestWillBeSent':
            requests[p['requestId']] = p['request']['url']
            scheme = urlsplit(p['request']['url']).scheme
            if scheme not in ('file', 'data', 'blob', 'about', 'chrome-extension', 'devtools'):
                defects.append(f'external resource {p["request"]["url"][:120]!r}: the site must work offline')
        elif m == 'Network.loadingFailed' and not p.get('canceled'):
            u = requests.get(p['requestId'], '?')
            if urlsplit(u).scheme in ('file', 'data', 'blob', '?', ''):
                defects.append(f'resource failed to load ({p.get("type", "?")}): {u[:160]} ({p.get("errorText")})')
        elif m == 'Runtime.exceptionThrown':
            d = p.get('exceptionDetails', {})
            defects.append(f'JavaScript exception: {(d.get("exception") or {}).get("description", d.get("text"))!s:.200}')
    ids = set(info['ids'])
    for link in info['links']:
        msg = check_link(link, page, ids)
        if msg: defects.append(msg)
    for img in info['images']:
        if not img['ok']: defects.append(f'missing figure: <img src={img["src"]!r}> did not load')
    if info['mathjax'] and info['mathjax'] != 'done': defects.append(f'MathJax did not finish ({info["mathjax"]})')
    for m in info['merrors']: defects.append(f'MathJax error in an equation: {m!r}')
    for m in info['rawtex']: defects.append(f'unrendered equation (raw TeX left in the page): {m!r}')
    info.update(seconds=round(time.monotonic() - t0, 2), n_links=len(info['links']), n_images=len(info['images']))
    return list(dict.fromkeys(defects)), info

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('site', nargs='?', default='_docs', help='folder of the built site (default _docs)')
    ap.add_argument('--pages', nargs='*', help='pages to check, relative to SITE (default: every .html under SITE)')
    ap.add_argument('--chromium', help='browser executable (default: chromium on PATH, or $CHROMIUM)')
    ap.add_argument('--timeout', type=float, default=30.0, help='seconds for one page to load (default 30)')
    ap.add_argument('--json', help='also write the per-page results to this file')
    ap.add_argument('--screenshots', help='also save a PNG of the top of each page into this folder')
    a = ap.parse_args(argv)
    site = Path(a.site)
    if not site.is_dir(): print(f'check_docs: site folder {site} does not exist (run `make docs` first)'); return 2
    pages = [site / p for p in a.pages] if a.pages else sorted(p for p in site.rglob('*.html') if '_static' not in p.parts)
    missing = [str(p) for p in pages if not p.is_file()]
    if missing: print('check_docs: no such page:', *missing); return 2
    chromium = find_chromium(a.chromium)
    if not chromium: print('check_docs: Chromium not found (Debian: apt-get install -y chromium)'); return 2
    t0, total, results = time.monotonic(), 0, {}
    browser = Browser(chromium, timeout=a.timeout)
    try:
        for p in pages:
            rel = str(p.relative_to(site))
            shot = None
            if a.screenshots:
                Path(a.screenshots).mkdir(parents=True, exist_ok=True)
                shot = Path(a.screenshots) / (rel.replace('/', '__') + '.png')
            defects, info = check_page(browser, p, timeout=a.timeout, screenshot=shot)
            results[rel] = {'defects': defects, **{k: info.get(k) for k in ('seconds', 'n_links', 'n_images', 'mathjax')}}
            for d in defects: print(f'{rel}: {d}')
            total += len(defects)
    finally:
        browser.close()
    if a.json: Path(a.json).write_text(json.dumps(results, indent=1))
    print(f'check_docs: {len(pages)} pages checked in {time.monotonic() - t0:.1f} s, {total} defects'
          + ('' if total else ' (links, figures and equations all fine)'))
    return 1 if total else 0

if __name__ == '__main__': sys.exit(main())
