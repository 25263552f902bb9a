(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var ops = data.ops;
  var byIndex = {};
  ops.forEach(function (op, position) { byIndex[op.i] = position; });
  var body = document.getElementById('details-body');
  var empty = document.getElementById('details-empty');
  var selected = [];

  function seconds(ns) { return ns == null ? '\u2014' : (ns / 1e9).toFixed(6) + ' s'; }
  function duration(ns) {
    if (ns == null) return '\u2014';
    if (ns >= 1e9) return (ns / 1e9).toFixed(3) + ' s';
    if (ns >= 1e6) return (ns / 1e6).toFixed(2) + ' ms';
    return (ns / 1e3).toFixed(0) + ' \u00b5s';
  }
  function text(v) {
    if (v === null || v === undefined) return '\u2014';
    return typeof v === 'string' ? v : JSON.stringify(v);
  }
  function summary(op) {
    var parts = ['#' + op.i, 'p' + op.p, op.f];
    if (op.k != null) parts.push(text(op.k));
    if (op.v != null) parts.push(text(op.v));
    return parts.join(' ') + ' \u2192 ' + op.o;
  }
  function el(tag, className, content) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = content;
    return node;
  }
  function reset(heading) {
    while (body.firstChild) body.removeChild(body.firstChild);
    if (empty) empty.hidden = true;
    body.appendChild(heading);
  }
  function mark(position) {
    selected.forEach(function (node) { node.classList.remove('selected'); });
    selected = Array.prototype.slice.call(
      document.querySelectorAll('[data-op="' + position + '"]'));
    selected.forEach(function (node) { node.classList.add('selected'); });
  }

  function showOp(position) {
    var op = ops[position];
    if (!op) return;
    reset(el('h4', 'outcome ' + op.o, summary(op)));
    var list = el('dl', 'fields');
    var rows = [
      ['outcome', op.o === 'info' ? 'info (unknown: it may or may not have happened)' : op.o],
      ['f', text(op.f)], ['key', text(op.k)], ['value', text(op.v)], ['result', text(op.r)],
      ['node', text(op.n)], ['process', 'p' + op.p], ['invoked', seconds(op.t0)],
      ['completed', op.t1 == null ? 'never' : seconds(op.t1)],
      ['latency', op.t1 == null ? '\u2014' : duration(op.t1 - op.t0)],
      ['error', text(op.e)], ['client / req', text(op.c) + ' / ' + text(op.q)],
      ['history index', op.i + (op.ci == null ? '' : ' (completion ' + op.ci + ')')]
    ];
    if (data.blocked === op.i) rows.unshift(['linearizability', 'this op cannot be linearized']);
    rows.forEach(function (row) {
      list.appendChild(el('dt', '', row[0]));
      list.appendChild(el('dd', '', row[1]));
    });
    body.appendChild(list);
    mark(position);
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, '', '#op=' + op.i);
    }
  }

  function showBin(spec) {
    var parts = spec.split(',').map(Number);
    var process = parts[0], t0 = parts[1], t1 = parts[2];
    var inside = [];
    ops.forEach(function (op, position) {
      var end = op.o === 'info' || op.t1 == null ? Infinity : op.t1;
      if (op.p === process && op.t0 <= t1 && end >= t0) inside.push(position);
    });
    reset(el('h4', '', 'p' + process + ', ' + seconds(t0) + ' to ' + seconds(t1) + ': ' +
      inside.length + ' op(s)'));
    var list = el('ul', 'bin-ops');
    inside.slice(0, 60).forEach(function (position) {
      var item = el('li');
      var button = el('button', 'link outcome ' + ops[position].o, summary(ops[position]));
      button.setAttribute('data-show-op', String(position));
      item.appendChild(button);
      list.appendChild(item);
    });
    body.appendChild(list);
    if (inside.length > 60) body.appendChild(el('p', 'hint', (inside.length - 60) + ' more'));
  }

  // An adversary mark carries its actions in its tooltip: shown as they are, as text.
  function showActions(mark) {
    var lines = mark.querySelector('title').textContent.split('\n');
    reset(el('h4', '', lines[0]));
    body.appendChild(el('pre', 'actions', lines.slice(1).join('\n')));
    selected.forEach(function (node) { node.classList.remove('selected'); });
    selected = [mark];
    mark.classList.add('selected');
  }

  document.addEventListener('click', function (event) {
    var target = event.target.closest('[data-op],[data-bin],[data-show-op],.act');
    if (!target) return;
    if (target.classList.contains('act')) showActions(target);
    else if (target.hasAttribute('data-show-op')) showOp(Number(target.getAttribute('data-show-op')));
    else if (target.hasAttribute('data-op')) showOp(Number(target.getAttribute('data-op')));
    else showBin(target.getAttribute('data-bin'));
  });

  var wanted = /^#op=(\d+)$/.exec(window.location.hash);
  if (wanted && byIndex[wanted[1]] !== undefined) showOp(byIndex[wanted[1]]);
  else if (data.blocked != null && byIndex[data.blocked] !== undefined) showOp(byIndex[data.blocked]);
  document.documentElement.setAttribute('data-report-ready', String(ops.length));
})();
