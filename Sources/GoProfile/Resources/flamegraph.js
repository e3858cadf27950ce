function gotraceFlameGraph(svg) {
  var prefix = svg.getAttribute('data-prefix') || '';
  var standalone = svg === document.documentElement;
  function byId(id) { return svg.querySelector('[id="' + prefix + id + '"]'); }
  var total = +svg.getAttribute('data-total');
  var unit = svg.getAttribute('data-unit');
  var side = +svg.getAttribute('data-side');
  var width = +svg.getAttribute('data-width');
  var frames = Array.prototype.slice.call(svg.querySelectorAll('g.f'));
  var nodes = frames.map(function (g) {
    var base = g.getAttribute('data-b');
    return { g: g, s: +g.getAttribute('data-s'), v: +g.getAttribute('data-v'), d: +g.getAttribute('data-d'),
             b: base === null ? null : +base, name: g.querySelector('title').textContent,
             rect: g.querySelector('rect'), text: g.querySelector('text') };
  });
  var details = byId('details');
  var matched = byId('matched');
  var search = byId('search');
  var zoomed = nodes[0];
  var query = '';

  function amount(v) {
    if (unit !== 'nanoseconds') return v + ' ' + unit;
    if (v >= 1e9) return (v / 1e9).toFixed(3) + ' s';
    if (v >= 1e6) return (v / 1e6).toFixed(3) + ' ms';
    if (v >= 1e3) return (v / 1e3).toFixed(3) + ' µs';
    return v + ' ns';
  }
  function share(v, of) { return (100 * v / of).toFixed(2) + '%'; }
  function describe(n) {
    var text = n.name + ' — ' + amount(n.v) + ' (' + share(n.v, total) + ' of all';
    if (zoomed !== nodes[0]) text += ', ' + share(n.v, zoomed.v) + ' of zoomed';
    text += ')';
    if (n.b !== null) text += ', before: ' + amount(n.b);
    return text;
  }
  function fit(name, w) {
    var chars = Math.floor((w - 6) / 6.6);
    if (chars < 3) return '';
    return name.length <= chars ? name : name.slice(0, chars - 2) + '..';
  }
  function layout() {
    var z = zoomed, scale = width / z.v;
    nodes.forEach(function (n) {
      var x, w, cls = 'f';
      if (n.d >= z.d && n.s >= z.s && n.s + n.v <= z.s + z.v) {
        x = side + (n.s - z.s) * scale; w = n.v * scale;
      } else if (n.d < z.d && n.s <= z.s && n.s + n.v >= z.s + z.v) {
        x = side; w = width; cls += ' parent';
      } else {
        cls += ' hidden';
      }
      if (w !== undefined) {
        n.rect.setAttribute('x', x.toFixed(2)); n.rect.setAttribute('width', w.toFixed(2));
        n.text.setAttribute('x', (x + 3).toFixed(2)); n.text.textContent = fit(n.name, w);
      }
      if (n.match) cls += ' match';
      n.g.setAttribute('class', cls);
    });
  }
  function highlight() {
    var re = null;
    if (query) { try { re = new RegExp(query); } catch (e) { matched.textContent = 'bad regex'; return; } }
    var intervals = [];
    nodes.forEach(function (n) {
      n.match = !!(re && n.d > 0 && re.test(n.name));
      if (n.match && n.s >= zoomed.s && n.s + n.v <= zoomed.s + zoomed.v) intervals.push([n.s, n.s + n.v]);
    });
    intervals.sort(function (a, b) { return a[0] - b[0]; });
    var sum = 0, end = -1;
    intervals.forEach(function (iv) {
      if (iv[0] >= end) { sum += iv[1] - iv[0]; end = iv[1]; }
      else if (iv[1] > end) { sum += iv[1] - end; end = iv[1]; }
    });
    matched.textContent = re ? 'Matched: ' + share(sum, zoomed.v) + ' (' + amount(sum) + ')' : '';
  }
  function remember() {
    if (!standalone) return;
    var parts = [];
    if (zoomed !== nodes[0]) parts.push('z=' + nodes.indexOf(zoomed));
    if (query) parts.push('q=' + encodeURIComponent(query));
    try { history.replaceState(null, '', parts.length ? '#' + parts.join('&') : location.pathname); } catch (e) {}
  }
  function update() { highlight(); layout(); remember(); }
  function zoom(n) { zoomed = n; details.textContent = describe(n); update(); }
  function reset() { zoomed = nodes[0]; query = ''; if (search) search.value = ''; update(); }
  nodes.forEach(function (n) {
    n.g.addEventListener('mouseover', function () { details.textContent = describe(n); });
    n.g.addEventListener('mouseout', function () { details.textContent = ' '; });
    n.g.addEventListener('click', function (e) { e.stopPropagation(); zoom(n); });
  });
  byId('reset').addEventListener('click', reset);
  svg.querySelector('rect.background').addEventListener('click', reset);
  if (search) search.addEventListener('input', function () { query = search.value; update(); });
  if (standalone) document.addEventListener('keydown', function (e) {
    if ((e.ctrlKey || e.metaKey) && (e.key === 'f' || e.key === 'F') || (e.key === '/' && document.activeElement !== search)) {
      e.preventDefault();
      if (search) { search.focus(); search.select(); }
      else { var q = prompt('Search (regular expression)', query); if (q !== null) { query = q; update(); } }
    } else if (e.key === 'Escape') { reset(); }
  });
  if (standalone) (location.hash || '').replace(/^#/, '').split('&').forEach(function (part) {
    var kv = part.split('=');
    if (kv[0] === 'z' && nodes[+kv[1]]) zoomed = nodes[+kv[1]];
    if (kv[0] === 'q') { query = decodeURIComponent(kv[1] || ''); if (search) search.value = query; }
  });
  update();
  return { reset: reset, search: function (q) { query = q; if (search) search.value = q; update(); } };
}
