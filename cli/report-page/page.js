// The forksafe report page: builds the process tree from the data embedded in the page
// (no request ever leaves it), with filters by kind and by driver. Text from the report
// goes into the page only through textContent, never as markup.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('forksafe-data').textContent);
  var strings = data.strings;
  var s = function (i) { return i === null || i === undefined ? null : strings[i]; };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : many || one + 's'); }

  // Processes by pid, children under their parent, in the order the report saw them.
  var byPid = new Map();
  data.processes.forEach(function (p) { p.children = []; byPid.set(p.pid, p); });
  var roots = [];
  data.processes.forEach(function (p) {
    var parent = p.parent !== null ? byPid.get(p.parent) : undefined;
    if (parent && parent !== p) parent.children.push(p);
    else roots.push(p);
  });

  var sum = data.summary;
  document.getElementById('file').textContent = data.file;
  document.getElementById('summary').textContent =
    plural(sum.violations, 'violation') + ' in ' + plural(sum.violationProcesses, 'process', 'processes') + '; ' +
    plural(sum.closed, 'connection') + ' closed before ' + plural(sum.forks, 'fork') +
    ' (' + plural(data.processes.length + data.unlistedProcesses, 'process', 'processes') + ' in the tree)';
  var notes = [];
  Object.keys(sum.byKind).forEach(function (k) { notes.push(k + ' ' + sum.byKind[k]); });
  if (data.unlistedProcesses > 0) notes.push('the page shows the first ' + data.processes.length + ' processes; ' + plural(data.unlistedProcesses, 'more process', 'more processes') + ' not shown');
  if (sum.malformed > 0) notes.push(plural(sum.malformed, 'malformed line') + ' skipped (listed at the end)');
  document.getElementById('notes').textContent = notes.join(' · ');

  // Filters list what the data holds.
  var kinds = new Set(), drivers = new Set();
  data.processes.forEach(function (p) {
    p.violations.forEach(function (v) { kinds.add(s(v[0])); drivers.add(s(v[4]) || 'unknown'); });
  });
  function fill(select, values) {
    Array.from(values).sort().forEach(function (v) { var o = el('option', null, v); o.value = v; select.appendChild(o); });
  }
  var kindFilter = document.getElementById('kind-filter');
  var driverFilter = document.getElementById('driver-filter');
  fill(kindFilter, kinds);
  fill(driverFilter, drivers);

  // The path to the first process with a violation is expanded; other subtrees start collapsed.
  var open = new Set();
  var firstBad = data.processes.find(function (p) { return p.violationCount > 0; });
  for (var p = firstBad; p; p = p.parent !== null ? byPid.get(p.parent) : undefined) {
    if (open.has(p.pid)) break;
    open.add(p.pid);
  }
  roots.forEach(function (r) { open.add(r.pid); });

  function forkText(f) {
    return f.api + ' · pre-fork step: pools ' + f.pools + ', closed ' + f.closed + ', kept ' + f.kept + (f.ms === null ? '' : ', ' + f.ms + ' ms') + (f.onFork ? ', onFork ' + f.onFork : '');
  }

  function violationItem(v) {
    var item = el('li', 'violation');
    item.dataset.kind = s(v[0]);
    item.dataset.driver = s(v[4]) || 'unknown';
    item.appendChild(el('span', 'kind', s(v[0])));
    if (v[9] > 1) item.appendChild(el('span', 'chip', v[9] + '×'));
    item.appendChild(document.createTextNode(' at '));
    item.appendChild(el('code', 'site', s(v[1])));
    if (s(v[2])) item.appendChild(document.createTextNode(' via ' + s(v[2])));
    if (s(v[3])) item.appendChild(el('span', 'chip', s(v[3])));
    var conn = el('div', 'conn');
    conn.appendChild(document.createTextNode((s(v[4]) || '?') + ' ' + (s(v[5]) || '?') + ' (' + (s(v[6]) || '?') + ' → ' + (s(v[7]) || '?') + '), opened at '));
    conn.appendChild(el('code', 'opened', s(v[8])));
    item.appendChild(conn);
    return item;
  }

  function processItem(p) {
    var li = el('li', 'process' + (p.violationCount > 0 ? ' has-violations' : ''));
    li.dataset.pid = String(p.pid);
    var head = el(p.children.length > 0 ? 'summary' : 'div', p.children.length > 0 ? null : 'leaf');
    head.appendChild(el('span', 'pid', 'pid ' + p.pid));
    if (p.fork) head.appendChild(el('span', 'chip ' + (p.fork.api === 'cluster.fork' ? 'cluster' : 'child'), p.fork.api));
    else if (p.parent !== null && byPid.has(p.parent)) head.appendChild(el('span', 'chip', 'spawned'));
    if (p.command) head.appendChild(el('span', 'command', p.command));
    if (p.violationCount > 0) head.appendChild(el('span', 'chip bad', plural(p.violationCount, 'violation')));
    if (p.children.length > 0) head.appendChild(el('span', 'chip', plural(p.children.length, 'child', 'children')));
    var body = document.createDocumentFragment();
    if (p.fork) body.appendChild(el('div', 'fork-step', forkText(p.fork)));
    if (p.violations.length > 0) {
      var list = el('ul', 'violations');
      p.violations.forEach(function (v) { list.appendChild(violationItem(v)); });
      if (p.unlistedViolations > 0) list.appendChild(el('li', 'more', '… and ' + plural(p.unlistedViolations, 'more violation') + ' of this process not listed'));
      body.appendChild(list);
    }
    if (p.children.length > 0) {
      var details = el('details');
      details.open = open.has(p.pid);
      details.appendChild(head);
      details.appendChild(body);
      var children = el('ul', 'children');
      p.children.forEach(function (c) { children.appendChild(processItem(c)); });
      details.appendChild(children);
      li.appendChild(details);
    } else {
      li.appendChild(head);
      li.appendChild(body);
    }
    return li;
  }

  var tree = document.getElementById('tree');
  roots.forEach(function (r) { tree.appendChild(processItem(r)); });

  var rows = Array.from(document.querySelectorAll('li.violation'));
  function applyFilters() {
    var kind = kindFilter.value, driver = driverFilter.value, shown = 0;
    rows.forEach(function (row) {
      var hide = (kind !== '' && row.dataset.kind !== kind) || (driver !== '' && row.dataset.driver !== driver);
      row.hidden = hide;
      if (!hide) shown++;
    });
    document.getElementById('shown').textContent = kind === '' && driver === '' ? '' : 'showing ' + shown + ' of ' + rows.length + ' violation entries';
  }
  kindFilter.addEventListener('change', applyFilters);
  driverFilter.addEventListener('change', applyFilters);
  function setAll(isOpen) { document.querySelectorAll('#tree details').forEach(function (d) { d.open = isOpen; }); }
  document.getElementById('expand-all').addEventListener('click', function () { setAll(true); });
  document.getElementById('collapse-all').addEventListener('click', function () { setAll(false); });

  if (data.malformed.count > 0) {
    var section = document.getElementById('malformed');
    section.hidden = false;
    var ml = document.getElementById('malformed-lines');
    data.malformed.lines.forEach(function (m) { ml.appendChild(el('li', null, 'line ' + m.line + ': ' + m.reason)); });
    if (data.malformed.count > data.malformed.lines.length) ml.appendChild(el('li', null, '… and ' + (data.malformed.count - data.malformed.lines.length) + ' more'));
  }
})();
