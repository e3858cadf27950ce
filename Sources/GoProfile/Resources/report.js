(function () {
  'use strict';
  var errors = document.getElementById('errors');
  window.addEventListener('error', function (e) { errors.textContent += 'Script error: ' + e.message + '\n'; });
  var started = performance.now();
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var R = data['html-report'] || {}, L = data.leak || null, T = data.latency || null;
  // Okabe–Ito: colour-blind-safe.
  var PAL = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#999999'];
  var STATE = { 1: ['runnable', '#E69F00'], 2: ['running', '#0072B2'], 3: ['blocked', '#D55E00'], 4: ['syscall', '#CC79A7'] };
  var MARK = [['spawn', '#009E73'], ['steal', '#56B4E9'], ['preempt', '#CC79A7'], ['stack growth', '#F0E442']];
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function set(id, text) { var e = $(id); if (e) e.textContent = text; }
  function ns(v) {
    if (v === null || v === undefined) return '–';
    if (v >= 1e9) return (v / 1e9).toFixed(3) + ' s';
    if (v >= 1e6) return (v / 1e6).toFixed(3) + ' ms';
    if (v >= 1e3) return (v / 1e3).toFixed(3) + ' µs';
    return Math.round(v) + ' ns';
  }
  function stackList(frames) {
    var ul = el('ul', { 'class': 'stack' });
    (frames || []).forEach(function (f) { ul.appendChild(el('li', {}, f)); });
    if (!frames || !frames.length) ul.appendChild(el('li', {}, '(no stack)'));
    return ul;
  }
  var selectGoroutine = function () {};

  // Summary.
  var S = R.summary || {};
  set('duration', ns(R.durationNs));
  set('events', R.events !== undefined ? R.events.toLocaleString('en') : '–');
  set('busy-percent', S.busyPercent !== undefined ? S.busyPercent : '–');
  set('goroutines-created', S.goroutinesCreated);
  set('goroutines-alive', S.goroutinesAlive);
  set('steals', S.steals);
  set('preemptions', S.preemptions);
  set('stack-growths', S.stackGrowths);
  set('cpu-samples', S.cpuSamples);
  (S.procs || []).forEach(function (p) {
    var tr = el('tr');
    tr.appendChild(el('td', {}, 'P' + p.p));
    tr.appendChild(el('td', { 'class': 'num' }, p.busyPercent + '%'));
    var td = el('td'); var bar = el('span', { 'class': 'bar' }); bar.style.width = (p.busyPercent * 0.8) + 'px';
    td.appendChild(bar); tr.appendChild(td);
    $('procs').tBodies[0].appendChild(tr);
  });
  (R.topCPU || []).forEach(function (f) {
    var tr = el('tr'); tr.appendChild(el('td', {}, f.function)); tr.appendChild(el('td', { 'class': 'num' }, f.samples));
    $('top-cpu').tBodies[0].appendChild(tr);
  });
  if (R.topCPU && R.topCPU.length) set('top-cpu-function', R.topCPU[0].function);
  else set('top-cpu-note', 'The trace has no cpu-sample events.');
  (R.topBlocking || []).forEach(function (f) {
    var tr = el('tr'); tr.appendChild(el('td', {}, f.function)); tr.appendChild(el('td', {}, f.reason));
    tr.appendChild(el('td', { 'class': 'num', 'data-ns': f.blockedNs }, ns(f.blockedNs)));
    $('top-blocking').tBodies[0].appendChild(tr);
  });
  if (R.topBlocking && R.topBlocking.length) set('top-blocking-function', R.topBlocking[0].function);

  // Leaks and cycles.
  if (L) {
    set('leaked-count', L.leaked);
    set('leak-summary', L.leaked ? L.leaked + ' goroutines were blocked when the trace ended, in ' + L.groups.length + (L.groups.length === 1 ? ' group.' : ' groups.')
                                 : 'No goroutine was blocked when the trace ended.');
    L.groups.forEach(function (g) {
      var div = el('div', { 'class': 'group' });
      div.appendChild(el('h3', {}, g.count + ' × ' + (g.waitReason || g.reason) + ' — blocked up to ' + ns(g.blockedForNs)));
      var ids = el('p', { 'class': 'ids' });
      ids.appendChild(el('span', {}, 'goroutines:'));
      g.goroutines.forEach(function (id) {
        var a = el('a', { 'data-goroutine': id, tabindex: 0 }, 'G' + id);
        a.addEventListener('click', function () { selectGoroutine(id, true); });
        ids.appendChild(a);
      });
      div.appendChild(ids);
      div.appendChild(el('div', { 'class': 'note' }, 'blocked at'));
      div.appendChild(stackList(g.blockedAt));
      div.appendChild(el('div', { 'class': 'note' }, 'created at'));
      div.appendChild(stackList(g.createdAt));
      $('leak-groups').appendChild(div);
    });
    if (!L.cycles || !L.cycles.length) $('cycles').appendChild(el('p', { 'class': 'note' }, 'None (cycles come from mutex events).'));
    (L.cycles || []).forEach(function (c, ci) { $('cycles').appendChild(cycleSVG(c, ci)); });
  } else {
    set('leak-summary', 'The leak analyzer did not run.');
  }
  function svgEl(tag, attrs, text) {
    var e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function cycleSVG(c, ci) {
    var n = c.goroutines.length, r = 80 + 12 * n, size = 2 * r + 160, cx = size / 2, cy = size / 2;
    var svg = svgEl('svg', { width: size, height: size, viewBox: '0 0 ' + size + ' ' + size, 'class': 'cycle', 'data-cycle': ci });
    var defs = svgEl('defs', {});
    var marker = svgEl('marker', { id: 'arrow' + ci, viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto' });
    marker.appendChild(svgEl('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#D55E00' }));
    defs.appendChild(marker); svg.appendChild(defs);
    var pos = {};
    c.goroutines.forEach(function (g, i) {
      var a = -Math.PI / 2 + 2 * Math.PI * i / n;
      pos[g] = [cx + r * Math.cos(a), cy + r * Math.sin(a)];
    });
    (c.edges || []).forEach(function (e) {
      var a = pos[e.goroutine], b = pos[e.waitsFor];
      if (!a || !b) return;
      // An arc bending to the right of A→B, so A→B and B→A are two visible arcs.
      var dx = b[0] - a[0], dy = b[1] - a[1], d = Math.sqrt(dx * dx + dy * dy) || 1, k = 26 / d;
      var bend = 0.25 * d, mx = (a[0] + b[0]) / 2 - dy / d * bend, my = (a[1] + b[1]) / 2 + dx / d * bend;
      var sx = a[0] + (mx - a[0]) * 26 / d * 1.6, sy = a[1] + (my - a[1]) * 26 / d * 1.6;
      var ex = b[0] + (mx - b[0]) * 26 / d * 1.6, ey = b[1] + (my - b[1]) * 26 / d * 1.6;
      svg.appendChild(svgEl('path', { d: 'M' + sx + ',' + sy + ' Q' + mx + ',' + my + ' ' + ex + ',' + ey, fill: 'none',
        stroke: '#D55E00', 'stroke-width': 2, 'marker-end': 'url(#arrow' + ci + ')' }));
      var label = svgEl('text', { x: (a[0] + b[0]) / 2 - dy / d * bend * 0.6, y: (a[1] + b[1]) / 2 + dx / d * bend * 0.6 + 4,
        'font-size': 10, 'text-anchor': 'middle', fill: '#333' }, 'G' + e.goroutine + ' waits for G' + e.waitsFor);
      if (e.object !== undefined) label.appendChild(svgEl('title', {}, 'object ' + e.object));
      svg.appendChild(label);
    });
    c.goroutines.forEach(function (g) {
      var p = pos[g], node = svgEl('g', { 'data-goroutine': g, style: 'cursor:pointer' });
      node.appendChild(svgEl('circle', { cx: p[0], cy: p[1], r: 24, fill: '#fff', stroke: '#0072B2', 'stroke-width': 2 }));
      node.appendChild(svgEl('text', { x: p[0], y: p[1] + 4, 'text-anchor': 'middle', 'font-size': 12 }, 'G' + g));
      node.addEventListener('click', function () { selectGoroutine(g, true); });
      svg.appendChild(node);
    });
    return svg;
  }

  // Latency charts: percentiles on a log scale.
  function latencyChart(name, key, stats) {
    var row = el('div', { 'class': 'latency-row' });
    var label = el('div');
    label.appendChild(el('strong', {}, name));
    label.appendChild(el('div', { 'class': 'note' }, stats.count + ' samples, mean ' + ns(stats.meanNs)));
    var p99 = el('div', { 'class': 'note' }, 'p99 ');
    p99.appendChild(el('span', { id: 'latency-' + key + '-p99', 'data-ns': stats.p99Ns }, ns(stats.p99Ns)));
    label.appendChild(p99);
    row.appendChild(label);
    if (!stats.count) { row.appendChild(el('p', { 'class': 'note' }, 'None recorded in this trace.')); $('latency-charts').appendChild(row); return; }
    var points = [['p50', stats.p50Ns], ['p90', stats.p90Ns], ['p99', stats.p99Ns], ['p99.9', stats.p999Ns], ['max', stats.maxNs]];
    var svg = svgEl('svg', { viewBox: '0 0 600 70', width: 600, height: 70, role: 'img', 'aria-label': name + ' latency percentiles' });
    var hi = Math.log10(Math.max(10, stats.maxNs || 1)) + 0.3, lo = 1;
    function x(v) { return 50 + 470 * Math.max(0, (Math.log10(Math.max(v, 10)) - lo) / (hi - lo)); }
    points.forEach(function (p, i) {
      var y = 2 + i * 13, bar = svgEl('rect', { x: 50, y: y, width: Math.max(1, x(p[1]) - 50), height: 11, fill: PAL[i] });
      bar.appendChild(svgEl('title', {}, p[0] + ': ' + ns(p[1])));
      svg.appendChild(svgEl('text', { x: 2, y: y + 9, 'font-size': 10 }, p[0]));
      svg.appendChild(bar);
      svg.appendChild(svgEl('text', { x: x(p[1]) + 4, y: y + 9, 'font-size': 10 }, ns(p[1])));
    });
    row.appendChild(svg);
    $('latency-charts').appendChild(row);
  }
  if (T) {
    if (T.scheduling) latencyChart('Scheduling (runnable → running)', 'scheduling', T.scheduling);
    if (T.preemption) latencyChart('Preemption', 'preemption', T.preemption);
    Object.keys(T.blocking || {}).forEach(function (reason) { latencyChart('Blocked: ' + reason, 'blocking-' + reason, T.blocking[reason]); });
    if (T.syscall && T.syscall.count) latencyChart('System calls', 'syscall', T.syscall);
  } else {
    $('latency-charts').appendChild(el('p', { 'class': 'note' }, 'The latency analyzer did not run.'));
  }

  // Flame graphs: the SVG export's markup and script.
  [['cpu', 'flame-cpu', 'No cpu-sample events in this trace.'], ['block', 'flame-block', 'Nothing blocked.']].forEach(function (f) {
    var svgText = R.flamegraphs && R.flamegraphs[f[0]];
    if (!svgText) { $(f[1]).appendChild(el('p', { 'class': 'note' }, f[2])); return; }
    $(f[1]).innerHTML = svgText;
    gotraceFlameGraph($(f[1]).querySelector('svg'));
  });

  // Timeline.
  var TL = R.timeline || { endNs: 0, procs: [], levels: [], slices: [], goroutines: [], stacks: [], markers: [], reasons: [] };
  var canvas = $('timeline-canvas'), ctx = canvas.getContext('2d');
  var end = Math.max(1, TL.endNs), view = { t0: 0, t1: end };
  var labelW = 90, rowH = 18, axisH = 20, markH = 10;
  var procIndex = {};
  TL.procs.forEach(function (p, i) { procIndex[p] = i; });
  // Exact slices per P, sorted by start: [goroutine, start, end, …].
  var exact = TL.procs.map(function () { return []; });
  for (var i = 0; i + 3 < TL.slices.length; i += 4) {
    var lane = exact[procIndex[TL.slices[i]]];
    if (lane) lane.push([TL.slices[i + 1], TL.slices[i + 2], TL.slices[i + 3]]);
  }
  exact.forEach(function (l) { l.sort(function (a, b) { return a[1] - b[1]; }); });
  var tracked = {};
  TL.goroutines.forEach(function (g) { tracked[g.id] = g; });
  var lanes = [];
  (function defaultLanes() {
    var leaked = [];
    if (L) L.groups.forEach(function (g) { g.goroutines.forEach(function (id) { if (tracked[id]) leaked.push(id); }); });
    var ids = leaked.slice(0, 12);
    TL.goroutines.forEach(function (g) { if (ids.length < 16 && ids.indexOf(g.id) < 0) ids.push(g.id); });
    lanes = ids;
    $('lane-ids').value = ids.join(', ');
  })();
  var legend = $('legend');
  [['running', '#0072B2'], ['runnable', '#E69F00'], ['blocked', '#D55E00'], ['syscall', '#CC79A7']].concat(MARK).forEach(function (l) {
    var s = el('span'); var sw = el('i'); sw.style.background = l[1]; s.appendChild(sw); s.appendChild(document.createTextNode(l[0])); legend.appendChild(s);
  });
  function colourOf(g) { return PAL[((g * 2654435761) >>> 0) % 7]; }
  function lowerBound(arr, t, key) {
    var lo = 0, hi = arr.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (key(arr[mid]) < t) lo = mid + 1; else hi = mid; }
    return lo;
  }
  var hits = [];
  function rows() { return TL.procs.length + lanes.length; }
  function resize() {
    var dpr = window.devicePixelRatio || 1, w = canvas.clientWidth || 1200, h = axisH + 4 * markH + rows() * rowH + 8;
    canvas.style.height = h + 'px';
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  function draw() {
    var w = canvas.clientWidth || 1200, plotW = w - labelW, span = view.t1 - view.t0, scale = plotW / span;
    var dpr = window.devicePixelRatio || 1, h = canvas.height / dpr;
    function X(t) { return labelW + (t - view.t0) * scale; }
    hits = [];
    var drawn = 0;
    ctx.clearRect(0, 0, w, h);
    ctx.font = '11px sans-serif'; ctx.textBaseline = 'middle';
    // Axis.
    ctx.fillStyle = '#555';
    var step = Math.pow(10, Math.floor(Math.log10(span / 6)));
    if (span / step > 12) step *= 5; else if (span / step > 6) step *= 2;
    for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      ctx.fillRect(X(t), axisH - 5, 1, 5); ctx.fillText(ns(t), X(t) + 2, 8);
    }
    // Markers: one row per kind.
    ctx.fillStyle = '#333'; 
    MARK.forEach(function (m, k) { ctx.fillStyle = '#555'; ctx.fillText(m[0], 2, axisH + k * markH + markH / 2); });
    var lastX = [-1, -1, -1, -1];
    for (var m = 0; m + 3 < TL.markers.length; m += 4) {
      var type = TL.markers[m], mt = TL.markers[m + 1];
      if (mt < view.t0 || mt > view.t1) continue;
      var mx = Math.floor(X(mt));
      if (mx === lastX[type]) continue;
      lastX[type] = mx;
      ctx.fillStyle = MARK[type][1];
      ctx.fillRect(mx, axisH + type * markH + 1, 2, markH - 2);
      hits.push({ x0: mx - 1, x1: mx + 3, y0: axisH + type * markH, y1: axisH + (type + 1) * markH,
                  text: MARK[type][0] + ' at ' + ns(mt) + ' (' + (type === 0 ? 'G' + TL.markers[m + 2] + ' spawned G' + TL.markers[m + 3]
                       : type === 1 ? 'P' + TL.markers[m + 2] + ' stole from P' + TL.markers[m + 3] : 'G' + TL.markers[m + 2]) + ')',
                  goroutine: type === 0 ? TL.markers[m + 3] : type === 1 ? null : TL.markers[m + 2] });
    }
    var y = axisH + 4 * markH;
    // P lanes: exact slices when the view is inside their range and they are few enough, else buckets.
    var useExact = view.t1 <= TL.detailEndNs;
    var level = null;
    if (!useExact || span / Math.max(1, TL.slices.length / 4 / Math.max(1, TL.procs.length)) < 0) useExact = useExact;
    if (!useExact && TL.levels.length) {
      level = TL.levels[TL.levels.length - 1];
      for (var li = 0; li < TL.levels.length; li++) { if (TL.levels[li].bucketNs >= span / plotW) { level = TL.levels[li]; break; } }
      if (span / plotW < TL.levels[0].bucketNs) level = TL.levels[0];
    }
    var thinned = (TL.markerStride || []).some(function (s) { return s > 1; }) ? ' Markers thinned evenly (every ' + TL.markerStride.join('/') + 'th spawn/steal/preempt/growth).' : '';
    $('timeline-level').textContent = (useExact ? 'P lanes: exact slices.' : level ? 'P lanes: ' + ns(level.bucketNs) + ' buckets (height = busy share, colour = goroutine that ran longest).' : '') + thinned;
    TL.procs.forEach(function (p, pi) {
      ctx.fillStyle = '#222'; ctx.fillText('P' + p, 4, y + rowH / 2);
      ctx.fillStyle = '#f3f3f3'; ctx.fillRect(labelW, y + 1, plotW, rowH - 2);
      if (useExact) {
        var l = exact[pi], from = Math.max(0, lowerBound(l, view.t0, function (s) { return s[1]; }) - 1), px = -1;
        for (var s = from; s < l.length && l[s][1] <= view.t1; s++) {
          var sl = l[s]; if (sl[2] < view.t0) continue;
          var x0 = X(sl[1]), x1 = Math.max(X(sl[2]), x0 + 1);
          if (Math.floor(x1) <= px) continue;
          px = Math.floor(x1) - 1;
          ctx.fillStyle = colourOf(sl[0]); ctx.fillRect(x0, y + 2, x1 - x0, rowH - 4); drawn++;
          if (x1 - x0 > 30) { ctx.fillStyle = '#000'; ctx.fillText('G' + sl[0], x0 + 2, y + rowH / 2, x1 - x0 - 3); }
          hits.push({ x0: x0, x1: x1, y0: y, y1: y + rowH, goroutine: sl[0], text: 'P' + p + ': G' + sl[0] + ' ran ' + ns(sl[1]) + ' – ' + ns(sl[2]) + ' (' + ns(sl[2] - sl[1]) + ')' });
        }
      } else if (level) {
        var b = level.lanes[pi] || [], w0 = level.bucketNs;
        var first = Math.floor(view.t0 / w0), lo = 0, hi = b.length / 3;
        while (lo < hi) { var mid = (lo + hi) >> 1; if (b[mid * 3] < first) lo = mid + 1; else hi = mid; }
        for (var k = lo * 3; k < b.length; k += 3) {
          var bs = b[k] * w0; if (bs > view.t1) break;
          var bx0 = X(bs), bx1 = Math.max(X(bs + w0), bx0 + 1), frac = Math.min(1, b[k + 1] / w0), hh = Math.max(1, (rowH - 4) * frac);
          ctx.fillStyle = colourOf(b[k + 2]); ctx.fillRect(bx0, y + rowH - 2 - hh, bx1 - bx0, hh); drawn++;
          hits.push({ x0: bx0, x1: bx1, y0: y, y1: y + rowH, goroutine: b[k + 2], text: 'P' + p + ' ' + ns(bs) + ' – ' + ns(bs + w0) + ': busy ' + Math.round(100 * frac) + '%, mostly G' + b[k + 2] });
        }
      }
      y += rowH;
    });
    // Goroutine lanes.
    lanes.forEach(function (id) {
      var g = tracked[id];
      ctx.fillStyle = '#222'; ctx.fillText('G' + id, 4, y + rowH / 2, labelW - 6);
      ctx.fillStyle = '#fafafa'; ctx.fillRect(labelW, y + 1, plotW, rowH - 2);
      if (g) {
        var sp = g.spans, px = -1;
        for (var s = 0; s + 4 < sp.length; s += 5) {
          var st = sp[s], s0 = sp[s + 2], s1 = sp[s + 3];
          if (s1 < view.t0 || s0 > view.t1) continue;
          var x0 = X(Math.max(s0, view.t0)), x1 = Math.max(X(Math.min(s1, view.t1)), x0 + 1);
          if (Math.floor(x1) <= px && st !== 3) continue;
          px = Math.floor(x1) - 1;
          var info = STATE[st] || ['state ' + st, '#999'], hgt = st === 2 ? rowH - 4 : st === 3 ? rowH - 8 : rowH - 10;
          ctx.fillStyle = info[1]; ctx.fillRect(x0, y + (rowH - hgt) / 2, x1 - x0, hgt); drawn++;
          var label = info[0] + (st === 3 ? ': ' + (TL.reasons[sp[s + 1]] || sp[s + 1]) : '');
          if (x1 - x0 > 60) { ctx.fillStyle = '#000'; ctx.fillText(label, x0 + 2, y + rowH / 2, x1 - x0 - 3); }
          hits.push({ x0: x0, x1: x1, y0: y, y1: y + rowH, goroutine: id, text: 'G' + id + ' ' + label + ' ' + ns(s0) + ' – ' + ns(s1) + ' (' + ns(s1 - s0) + ')' });
        }
      } else {
        ctx.fillStyle = '#777'; ctx.fillText('no detailed lane for this goroutine', labelW + 4, y + rowH / 2);
      }
      y += rowH;
    });
    canvas.setAttribute('data-drawn', drawn);
    canvas.setAttribute('data-view', Math.round(view.t0) + '-' + Math.round(view.t1));
  }
  function redraw() { resize(); draw(); }
  function zoomBy(factor, at) {
    var span = view.t1 - view.t0, centre = at === undefined ? (view.t0 + view.t1) / 2 : at;
    var next = Math.min(end, Math.max(1000, span * factor));
    var t0 = centre - (centre - view.t0) * next / span;
    view.t0 = Math.max(0, Math.min(t0, end - next)); view.t1 = view.t0 + next;
    draw();
  }
  function pan(fraction) {
    var span = view.t1 - view.t0, t0 = Math.max(0, Math.min(end - span, view.t0 + span * fraction));
    view.t0 = t0; view.t1 = t0 + span; draw();
  }
  function timeAt(clientX) {
    var r = canvas.getBoundingClientRect(), w = canvas.clientWidth - labelW;
    return view.t0 + (clientX - r.left - labelW) / w * (view.t1 - view.t0);
  }
  function hitAt(e) {
    var r = canvas.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
    for (var i = hits.length - 1; i >= 0; i--) { var h = hits[i]; if (x >= h.x0 - 1 && x <= h.x1 + 1 && y >= h.y0 && y < h.y1) return h; }
    return null;
  }
  canvas.addEventListener('wheel', function (e) { e.preventDefault(); zoomBy(e.deltaY < 0 ? 0.8 : 1.25, timeAt(e.clientX)); }, { passive: false });
  var drag = null;
  canvas.addEventListener('mousedown', function (e) { drag = { x: e.clientX, t0: view.t0, moved: false }; });
  window.addEventListener('mouseup', function () { setTimeout(function () { drag = null; }, 0); });
  canvas.addEventListener('mousemove', function (e) {
    if (drag && e.buttons) {
      var dx = e.clientX - drag.x; if (Math.abs(dx) > 2) drag.moved = true;
      var span = view.t1 - view.t0, t0 = drag.t0 - dx / (canvas.clientWidth - labelW) * span;
      view.t0 = Math.max(0, Math.min(end - span, t0)); view.t1 = view.t0 + span; draw(); return;
    }
    var h = hitAt(e); $('timeline-status').textContent = h ? h.text : ' ';
  });
  canvas.addEventListener('click', function (e) {
    if (drag && drag.moved) return;
    var h = hitAt(e); if (h && h.goroutine !== null && h.goroutine >= 0) selectGoroutine(h.goroutine, false);
  });
  document.addEventListener('keydown', function (e) {
    var tag = (document.activeElement && document.activeElement.tagName) || '';
    if (tag === 'INPUT' || tag === 'TEXTAREA' || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === '+' || e.key === '=') zoomBy(0.5);
    else if (e.key === '-' || e.key === '_') zoomBy(2);
    else if (e.key === '0') { view.t0 = 0; view.t1 = end; draw(); }
    else if (e.key === 'ArrowLeft' && document.activeElement === canvas) pan(-0.2);
    else if (e.key === 'ArrowRight' && document.activeElement === canvas) pan(0.2);
    else return;
    e.preventDefault();
  });
  $('zoom-in').addEventListener('click', function () { zoomBy(0.5); });
  $('zoom-out').addEventListener('click', function () { zoomBy(2); });
  $('zoom-reset').addEventListener('click', function () { view.t0 = 0; view.t1 = end; draw(); });
  function applyLanes() {
    lanes = $('lane-ids').value.split(/[^0-9]+/).filter(function (s) { return s.length; }).map(Number);
    redraw();
  }
  $('lane-apply').addEventListener('click', applyLanes);
  $('lane-ids').addEventListener('keydown', function (e) { if (e.key === 'Enter') applyLanes(); });
  selectGoroutine = function (id, scroll) {
    var box = $('goroutine-details'); box.textContent = '';
    box.appendChild(el('h3', { id: 'selected-goroutine', 'data-goroutine': id }, 'Goroutine G' + id));
    if (lanes.indexOf(id) < 0 && tracked[id]) { lanes.push(id); $('lane-ids').value = lanes.join(', '); redraw(); }
    var g = tracked[id];
    if (!g) { box.appendChild(el('p', { 'class': 'note' }, 'This goroutine has no detailed lane (the report keeps ' + TL.goroutines.length + ').')); }
    else {
      box.appendChild(el('p', {}, (g.createdNs === null ? 'Existed before the trace began.' : 'Created at ' + ns(g.createdNs)) + (g.site ? ' in ' + g.site : '') + '.'));
      box.appendChild(el('div', { 'class': 'note' }, 'creation stack'));
      box.appendChild(stackList(g.createdAt >= 0 ? TL.stacks[g.createdAt] : []));
      var seen = {}, waits = 0;
      for (var s = 0; s + 4 < g.spans.length; s += 5) {
        if (g.spans[s] !== 3) continue;
        waits++;
        var key = g.spans[s + 1] + ':' + g.spans[s + 4];
        if (!seen[key]) seen[key] = { reason: TL.reasons[g.spans[s + 1]], stack: g.spans[s + 4], count: 0, ns: 0, first: g.spans[s + 2] };
        seen[key].count++; seen[key].ns += g.spans[s + 3] - g.spans[s + 2];
      }
      box.appendChild(el('div', { 'class': 'note' }, waits ? 'blocking stacks (' + waits + ' waits)' : 'never blocked'));
      Object.keys(seen).forEach(function (k) {
        var w = seen[k];
        box.appendChild(el('p', {}, w.reason + ' — ' + w.count + ' times, ' + ns(w.ns) + ' in all, first at ' + ns(w.first)));
        box.appendChild(stackList(w.stack >= 0 ? TL.stacks[w.stack] : []));
      });
    }
    if (scroll) box.scrollIntoView({ block: 'nearest' });
  };
  window.addEventListener('resize', redraw);
  redraw();
  // `#selftest` (scripts/browser_check.py): drive the controls as a user would and record the outcome.
  if (location.hash === '#selftest') {
    var failures = [];
    function key(k) { document.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true })); }
    var before = canvas.getAttribute('data-view');
    key('+');
    var zoomed = canvas.getAttribute('data-view');
    if (zoomed === before) failures.push('+ did not zoom');
    canvas.focus(); key('ArrowRight');
    if (canvas.getAttribute('data-view') === zoomed && view.t1 < end) failures.push('ArrowRight did not pan');
    key('-'); key('0');
    if (canvas.getAttribute('data-view') !== before) failures.push('0 did not show the whole trace');
    if (TL.goroutines.length) {
      selectGoroutine(TL.goroutines[0].id, false);
      if (!$('selected-goroutine')) failures.push('selecting a goroutine showed nothing');
    }
    var search = document.querySelector('#flame-block input');
    if (search) {
      search.value = '.'; search.dispatchEvent(new Event('input'));
      var matched = document.querySelector('#flame-block [id="block-matched"]');
      if (!matched || matched.textContent.indexOf('Matched') < 0) failures.push('flame graph search matched nothing');
    }
    document.body.setAttribute('data-selftest', failures.length ? 'fail: ' + failures.join('; ') : 'ok');
  }
  document.body.setAttribute('data-render-ms', Math.round(performance.now() - started));
  document.body.setAttribute('data-ready', '1');
})();
