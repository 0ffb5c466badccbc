/**
 * The review page's one script, served as /review.js and allowed by the page's CSP nonce.
 * Plain browser JavaScript kept in a string, so it ships inside dist/ with no bundler and no
 * DOM types in the project's compilation; the Chromium tests (test/review.test.ts) are its
 * type check. It never turns data into markup: the only HTML it inserts is the server's own
 * rendering (src/review/page.ts), where every value is escaped.
 */
export const CLIENT_JS = String.raw`'use strict';
(function () {
  var token = document.querySelector('meta[name="gpt4k-token"]').getAttribute('content');
  var root = document.getElementById('root');
  /** Per viewer (asset/target): zoom, layer, overlays and scroll, kept across updates. */
  var views = {};
  var SVG = 'http://www.w3.org/2000/svg';

  function viewOf(key) {
    if (!views[key]) views[key] = { zoom: 'fit', layer: 'proof', overlays: { lines: true, ink: false, gamut: false }, scroll: [0, 0] };
    return views[key];
  }

  function tiles(layerEl, p, name, scale) {
    var level = p.maxLevel;
    if (scale < 1) level = Math.max(0, p.maxLevel - Math.floor(Math.log2(1 / scale)));
    var factor = Math.pow(2, p.maxLevel - level);
    var levelW = Math.ceil(p.width / factor), levelH = Math.ceil(p.height / factor);
    var cols = Math.ceil(levelW / p.tileSize), rows = Math.ceil(levelH / p.tileSize);
    var unit = factor * scale;
    layerEl.replaceChildren();
    layerEl.dataset.level = String(level);
    for (var row = 0; row < rows; row++) {
      for (var col = 0; col < cols; col++) {
        var img = document.createElement('img');
        img.className = 'tile';
        img.alt = '';
        img.loading = 'lazy';
        img.decoding = 'async';
        var w = Math.min(p.tileSize, levelW - col * p.tileSize), h = Math.min(p.tileSize, levelH - row * p.tileSize);
        img.style.left = col * p.tileSize * unit + 'px';
        img.style.top = row * p.tileSize * unit + 'px';
        img.style.width = w * unit + 'px';
        img.style.height = h * unit + 'px';
        img.src = p.base + name + '_files/' + level + '/' + col + '_' + row + '.png';
        layerEl.appendChild(img);
      }
    }
  }

  function rect(svg, cls, r) {
    var el = document.createElementNS(SVG, 'rect');
    el.setAttribute('class', cls);
    el.setAttribute('x', String(r.x));
    el.setAttribute('y', String(r.y));
    el.setAttribute('width', String(r.width));
    el.setAttribute('height', String(r.height));
    el.setAttribute('fill', 'none');
    el.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.appendChild(el);
  }

  function lines(p) {
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'lines');
    svg.setAttribute('viewBox', '0 0 ' + p.width + ' ' + p.height);
    svg.setAttribute('preserveAspectRatio', 'none');
    rect(svg, 'bleed', { x: 0, y: 0, width: p.width, height: p.height });
    rect(svg, 'trim', p.trim);
    rect(svg, 'safe', p.safe);
    var styles = { bleed: ['#ff3b30', '2', '6 4'], trim: ['#00c2ff', '1.5', ''], safe: ['#ff2bd6', '1', '4 3'] };
    svg.querySelectorAll('rect').forEach(function (r) {
      var s = styles[r.getAttribute('class')];
      r.setAttribute('stroke', s[0]);
      r.setAttribute('stroke-width', s[1]);
      if (s[2]) r.setAttribute('stroke-dasharray', s[2]);
    });
    return svg;
  }

  function draw(viewer) {
    var p = JSON.parse(viewer.dataset.proof);
    var view = viewOf(viewer.dataset.key);
    var viewport = viewer.querySelector('.viewport');
    var canvas = viewer.querySelector('.canvas');
    var scale = view.zoom === 'fit' ? Math.min((viewport.clientWidth - 2) / p.width, (viewport.clientHeight - 2) / p.height) : Number(view.zoom);
    canvas.style.width = p.width * scale + 'px';
    canvas.style.height = p.height * scale + 'px';
    canvas.dataset.scale = String(scale);
    canvas.replaceChildren();
    var layer = document.createElement('div');
    layer.className = 'layer layer-' + view.layer;
    tiles(layer, p, view.layer === 'source' && p.source ? 'source' : 'proof', scale);
    canvas.appendChild(layer);
    ['ink', 'gamut'].forEach(function (name) {
      if (!p[name] || !view.overlays[name]) return;
      var mask = document.createElement('img');
      mask.className = 'mask mask-' + name;
      mask.alt = '';
      mask.src = p.base + name + '.png';
      canvas.appendChild(mask);
    });
    if (view.overlays.lines) canvas.appendChild(lines(p));
    viewer.querySelectorAll('[data-zoom]').forEach(function (b) { b.setAttribute('aria-pressed', String(b.dataset.zoom === String(view.zoom))); });
    viewer.querySelectorAll('[data-layer]').forEach(function (b) { b.setAttribute('aria-pressed', String(b.dataset.layer === view.layer)); });
    viewer.querySelectorAll('[data-overlay]').forEach(function (c) { c.checked = !!view.overlays[c.dataset.overlay]; });
    viewport.scrollLeft = view.scroll[0];
    viewport.scrollTop = view.scroll[1];
  }

  function setup() {
    root.querySelectorAll('.viewer[data-proof]').forEach(function (viewer) {
      var view = viewOf(viewer.dataset.key);
      var viewport = viewer.querySelector('.viewport');
      viewer.querySelectorAll('[data-zoom]').forEach(function (b) {
        b.addEventListener('click', function () { view.zoom = b.dataset.zoom; view.scroll = [0, 0]; draw(viewer); });
      });
      viewer.querySelectorAll('[data-layer]').forEach(function (b) {
        b.addEventListener('click', function () { view.layer = b.dataset.layer; draw(viewer); });
      });
      viewer.querySelectorAll('[data-overlay]').forEach(function (c) {
        c.addEventListener('change', function () { view.overlays[c.dataset.overlay] = c.checked; draw(viewer); });
      });
      viewport.addEventListener('scroll', function () { view.scroll = [viewport.scrollLeft, viewport.scrollTop]; });
      draw(viewer);
    });
  }

  function say(text) {
    var line = document.getElementById('notice');
    if (!line) {
      line = document.createElement('p');
      line.id = 'notice';
      line.setAttribute('role', 'status');
      document.body.insertBefore(line, root);
    }
    line.textContent = text;
  }

  function post(url, body) {
    return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-gpt4k-token': token }, body: JSON.stringify(body) })
      .then(function (res) { return res.json().then(function (answer) { if (!res.ok) throw new Error(answer.error || res.statusText); return answer; }); });
  }

  root.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('button.pick');
    if (!button) return;
    button.disabled = true;
    say('Using candidate ' + button.dataset.pick + ' of ' + button.dataset.asset + '; rebuilding…');
    post('/api/pick', { asset: button.dataset.asset, k: Number(button.dataset.pick) }).catch(function (err) { say('Could not pick: ' + err.message); button.disabled = false; });
  });

  root.addEventListener('submit', function (event) {
    var form = event.target;
    if (!form.classList.contains('review-form')) return;
    event.preventDefault();
    var decision = event.submitter ? event.submitter.value : 'approved';
    post('/api/review', { asset: form.dataset.asset, decision: decision, comment: form.elements.comment.value })
      .then(function () { say('Saved: ' + form.dataset.asset + ' ' + decision); refresh(); })
      .catch(function (err) { say('Could not save: ' + err.message); });
  });

  var updates = 0;
  function refresh() {
    return fetch('/main').then(function (res) { return res.text(); }).then(function (text) {
      root.innerHTML = text;
      updates++;
      document.documentElement.dataset.updates = String(updates);
      setup();
    });
  }

  var events = new EventSource('/events');
  events.addEventListener('update', function () { refresh(); });
  // On (re)connecting, the server says which cycle it is at: a build that finished between this
  // page's render and the connection sent its update to nobody, so catch up now.
  events.addEventListener('hello', function (event) {
    var main = root.querySelector('.review-main');
    if (!main || main.dataset.cycle !== event.data) refresh();
  });
  window.addEventListener('resize', function () { root.querySelectorAll('.viewer[data-proof]').forEach(draw); });
  setup();
})();
`;
