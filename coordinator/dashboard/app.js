// hpo dashboard: the studies of one coordinator, and for each its Pareto front, trials and progress.
// Plain JavaScript, no libraries: everything the page needs is served by the coordinator.
//
// Routes (in the address's hash): #/ lists the studies; #/studies/ID shows one. While the shown study
// runs, the page polls the JSON API every POLL_MS; the list polls every LIST_POLL_MS. A study's trials are
// fetched whole once, then only those changed since the last answer (/trials?updated_since=CURSOR), and
// merged by id; its analysis (/analysis: importance, front, hypervolume history) again only when the
// number of completed trials changed (at most every ANALYSIS_MS while the study runs). The study's
// analysis views live in plots.js (history, slices), importance.js, parallel.js and curves.js, loaded
// before this file; the trials table's filters and the parallel coordinates' brushes decide its rows.
//
// Hooks for tests and scripts: every plotted trial is <circle class="trial" data-trial-id="ID">, those
// on the front also have class "front", infeasible ones (breaking a constraint) class "infeasible"; the
// front's step line is <path class="front-line">; the trials table is #trials-table (rows
// tr[data-trial-id]; #filter-count carries data-shown and data-total); #trial-count and #progress carry
// data-completed, data-pruned, data-failed, data-running and data-max; <body data-ready="true"> once the
// first view is drawn.
//
// Pruned trials (stopped early by the study's pruner) are done, not failed: they count as finished, in
// their own (amber) colour.
'use strict';

const POLL_MS = 1500;
const LIST_POLL_MS = 3000;
// The analysis (forests fitted on the coordinator) is asked for again at most this often while a study runs.
const ANALYSIS_MS = 10000;
const SVG_NS = 'http://www.w3.org/2000/svg';
const PLOT = {width: 760, height: 460, left: 78, right: 24, top: 18, bottom: 58};

const state = {
  token: null,
  timer: null,
  generation: 0,  // bumped on every route change, so that a late answer for an old view is dropped
  study: null,
  trials: [],
  trialsById: new Map(),
  cursor: 0,           // the trials' change cursor of the last answer
  analysis: null,
  analysisCompleted: -1,  // completed trials when the analysis was fetched
  analysisAt: 0,          // and when (Date.now())
  views: {},           // the views' own choices (objective shown, ...)
  brushes: {},         // parallel coordinates: axis key -> [low, high] on the axis's [0, 1]
  filters: {state: '', front: false, param: '', min: '', max: ''},
  front: null,
  frontIds: new Set(),
  sort: {key: 'number', dir: 1},
  axes: {x: 0, y: 1},
  selected: null,
};

const $ = (id) => document.getElementById(id);

// ---- token ----

function takeToken() {
  const params = new URLSearchParams(window.location.search);
  const fromUrl = params.get('token');
  if (fromUrl) {
    sessionStorage.setItem('hpo-token', fromUrl);
    params.delete('token');
    const rest = params.toString();
    // Out of the address bar and the history: the token is kept in this tab's storage only.
    history.replaceState(null, '', window.location.pathname + (rest ? '?' + rest : '') + window.location.hash);
  }
  state.token = sessionStorage.getItem('hpo-token');
}

class AuthError extends Error {}

async function api(path) {
  const headers = {Accept: 'application/json'};
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  const response = await fetch(path, {headers, cache: 'no-store'});
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (response.status === 401) throw new AuthError(body && body.error ? body.error : 'token required');
  if (!response.ok) throw new Error(body && body.error ? body.error : response.status + ' ' + response.statusText);
  return body;
}

// ---- formatting ----

function fmt(value) {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(3);
  return String(Number(value.toPrecision(5)));
}

function fmtTime(ms) {
  if (!ms) return '';
  return new Date(ms).toLocaleString();
}

function fmtDuration(ms) {
  if (!(ms > 0)) return '';
  const s = ms / 1000;
  if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return m + ' min ' + Math.round(s - 60 * m) + ' s';
  return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'className') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function showError(message) {
  const box = $('error');
  box.textContent = message || '';
  box.hidden = !message;
}

// Trials that count against the budget: completed, pruned and failed.
function finished(counts) {
  return counts.completed + (counts.pruned || 0) + counts.failed;
}

// "8 completed, 3 pruned, 1 failed": the pruned named when there are any.
function finishedText(counts) {
  return counts.completed + ' completed, ' + (counts.pruned ? counts.pruned + ' pruned, ' : '') + counts.failed +
      ' failed';
}

function setProgress(bar, counts, max) {
  if (!bar.querySelector('.segment.pruned')) {
    bar.querySelector('.segment.completed').after(el('div', {className: 'segment pruned'}));
  }
  const total = Math.max(max, finished(counts) + counts.running, 1);
  const parts =
      {completed: counts.completed, pruned: counts.pruned || 0, failed: counts.failed, running: counts.running};
  for (const [name, n] of Object.entries(parts)) {
    bar.querySelector('.segment.' + name).style.width = (100 * n / total) + '%';
    bar.dataset[name] = n;
  }
  bar.dataset.max = max;
  bar.setAttribute('aria-label', finishedText(counts) + ', ' + counts.running + ' running of ' + max);
}

function progressBar() {
  return el('div', {className: 'progress small'}, el('div', {className: 'segment completed'}),
      el('div', {className: 'segment pruned'}), el('div', {className: 'segment failed'}),
      el('div', {className: 'segment running'}));
}

// The study's counts, with the pruned trials counted from `trials` when the coordinator's counts do not
// carry them.
function countsWithPruned(counts, trials) {
  if (counts.pruned !== undefined) return counts;
  return Object.assign({}, counts, {pruned: trials.filter((t) => t.state === 'pruned').length});
}

function stateBadge(name) {
  return el('span', {className: 'badge ' + name}, name);
}

// ---- routing and polling ----

function route() {
  const match = /^#\/studies\/(\d+)/.exec(window.location.hash);
  return match ? {view: 'study', id: Number(match[1])} : {view: 'list'};
}

function schedule(ms) {
  clearTimeout(state.timer);
  state.timer = setTimeout(refresh, ms);
}

async function refresh() {
  const generation = state.generation;
  const where = route();
  try {
    if (where.view === 'list') {
      const data = await api('/api/v1/studies');
      if (generation !== state.generation) return;
      renderList(data.studies);
      schedule(LIST_POLL_MS);
    } else {
      const base = '/api/v1/studies/' + where.id;
      const [study, changes, front] = await Promise.all([api(base),
        api(base + '/trials?history=1&updated_since=' + state.cursor), api(base + '/front')]);
      if (generation !== state.generation) return;
      for (const t of changes.trials) state.trialsById.set(t.id, t);
      state.cursor = changes.cursor;
      let analysisChanged = false;
      if (study.counts.completed !== state.analysisCompleted &&
          (study.state !== 'running' || Date.now() - state.analysisAt >= ANALYSIS_MS)) {
        const analysis = await api(base + '/analysis');
        if (generation !== state.generation) return;
        state.analysis = analysis;
        state.analysisCompleted = study.counts.completed;
        state.analysisAt = Date.now();
        analysisChanged = true;
      }
      const trials = [...state.trialsById.values()].sort((a, b) => a.number - b.number);
      renderStudy(study, trials, front, changes.trials.length > 0 || analysisChanged);
      // Live while it runs; once it has ended nothing changes, so the page stops asking.
      if (study.state === 'running') schedule(POLL_MS);
    }
    showError('');
    $('token-form').hidden = true;
    $('live').textContent = (where.view === 'list' || state.study && state.study.state === 'running')
        ? 'live · updated ' + new Date().toLocaleTimeString() : '';
  } catch (e) {
    if (generation !== state.generation) return;
    if (e instanceof AuthError) {
      $('token-form').hidden = false;
      $('studies-view').hidden = true;
      $('study-view').hidden = true;
      showError(e.message);
      return;  // waits for the form
    }
    showError(e.message);
    schedule(POLL_MS * 2);  // e.g. the coordinator restarting: try again
  } finally {
    document.body.dataset.ready = 'true';
  }
}

function navigate() {
  state.generation += 1;
  clearTimeout(state.timer);
  state.study = null;
  state.selected = null;
  state.trialsById = new Map();
  state.cursor = 0;
  state.analysis = null;
  state.analysisCompleted = -1;
  state.analysisAt = 0;
  state.brushes = {};
  state.viewsDrawn = false;
  const where = route();
  $('studies-view').hidden = where.view !== 'list';
  $('study-view').hidden = where.view !== 'study';
  refresh();
}

// ---- the studies list ----

function renderList(studies) {
  const body = $('studies-table').querySelector('tbody');
  body.replaceChildren();
  $('studies-empty').hidden = studies.length > 0;
  $('studies-table').hidden = studies.length === 0;
  for (const s of studies.slice().sort((a, b) => b.id - a.id)) {
    const bar = progressBar();
    setProgress(bar, s.counts, s.max_trials);
    const link = el('a', {href: '#/studies/' + s.id}, s.name || '(unnamed)');
    const row = el('tr', {dataset: {studyId: s.id}},
        el('td', {className: 'num'}, s.id), el('td', {}, link), el('td', {}, stateBadge(s.state)),
        el('td', {className: 'wide'}, bar),
        el('td', {className: 'num'}, finished(s.counts) + ' / ' + s.max_trials),
        el('td', {}, s.objectives.map((o) => o.name + (o.direction === 'maximize' ? ' ↑' : ' ↓')).join(', ')),
        el('td', {}, s.algorithm), el('td', {}, s.task), el('td', {}, fmtTime(s.created_ms)));
    row.addEventListener('click', (event) => {
      if (event.target.tagName !== 'A') window.location.hash = '#/studies/' + s.id;
    });
    body.append(row);
  }
  document.title = 'hpo: studies';
}

// ---- one study ----

// `changed`: trials or the analysis changed since the last call, so the analysis views are redrawn.
function renderStudy(study, trials, front, changed) {
  state.study = study;
  state.trials = trials;
  state.front = front;
  state.frontIds = new Set(front.trial_ids);
  document.title = 'hpo: ' + (study.name || 'study ' + study.id);

  $('study-title').textContent = (study.name || '(unnamed)') + ' · study ' + study.id;
  const badge = $('study-state');
  badge.textContent = study.state;
  badge.className = 'badge ' + study.state;
  const end = study.finished_ms || Date.now();
  $('study-meta').textContent = [
    study.algorithm + ' search', study.task + ' task',
    'objectives: ' + study.objectives.map((o) => o.name + ' (' + o.direction + ')').join(', '),
    'up to ' + (study.max_parallel || study.max_trials) + ' at once',
    'started ' + fmtTime(study.created_ms), (study.finished_ms ? 'took ' : 'running for ') +
        fmtDuration(end - study.created_ms) + (study.finished_ms ? ' wall, ' +
        (fmtDuration(study.compute_ms) || '0 s') + ' compute' : ''),
  ].join(' · ');
  if (window.hpoWorkers) window.hpoWorkers.showStudy(study);

  const c = countsWithPruned(study.counts, trials);
  setProgress($('progress'), c, study.max_trials);
  const count = $('trial-count');
  count.textContent = finished(c) + ' of ' + study.max_trials + ' trials done';
  Object.assign(count.dataset, {completed: c.completed, pruned: c.pruned, failed: c.failed, running: c.running,
    pending: c.pending, max: study.max_trials});
  $('progress-detail').textContent = '(' + finishedText(c) + ', ' + c.running + ' running' +
      (c.pending ? ', ' + c.pending + ' pending' : '') + ')';
  const hv = study.hypervolume;
  const hvBox = $('hypervolume');
  if (hv) {
    hvBox.textContent = 'hypervolume ' + fmt(hv.value) + ' (reference point [' +
        study.objectives.map((o, k) => o.name + ' ' + fmt(hv.reference[k])).join(', ') + '], rule: ' + hv.rule +
        ') · front of ' + front.trial_ids.length + ' among ' + hv.completed + ' completed trials';
    hvBox.title = 'Computed by the coordinator, as hpoctl shows it. Rule "worst + 10% of range": per objective, ' +
        'the worst value among the completed trials plus a tenth of their range.';
  } else {
    hvBox.textContent = 'hypervolume: no completed trial yet';
  }

  renderAxisPickers(study.objectives);
  renderPlot();
  if (changed || !state.viewsDrawn) {
    renderViews();
    renderTable();
  }
}

function renderViews() {
  state.viewsDrawn = true;
  renderHistory();
  renderImportance();
  renderSlices();
  renderParallel();
  renderCurves();
}

function renderAxisPickers(objectives) {
  const pickers = $('axis-pickers');
  pickers.hidden = objectives.length <= 2;
  state.axes.x = Math.min(state.axes.x, objectives.length - 1);
  state.axes.y = Math.min(state.axes.y, objectives.length - 1);
  if (objectives.length <= 1) return;
  for (const axis of ['x', 'y']) {
    const select = $(axis + '-objective');
    if (select.options.length !== objectives.length) {
      select.replaceChildren(...objectives.map((o, k) => el('option', {value: k}, o.name)));
    }
    select.value = String(state.axes[axis]);
  }
}

// Round tick values covering [low, high].
function ticks(low, high, count) {
  if (!(high > low)) return [low];
  const raw = (high - low) / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || 10 * power;
  const out = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function domain(values) {
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (!(high > low)) {
    const pad = low === 0 ? 1 : Math.abs(low) * 0.1;
    low -= pad;
    high += pad;
  }
  const pad = (high - low) * 0.05;
  return [low - pad, high + pad];
}

function renderPlot() {
  const plot = $('front-plot');
  plot.replaceChildren();
  $('tooltip').hidden = true;
  const objectives = state.study.objectives;
  const xo = objectives[state.axes.x];
  const yo = objectives.length > 1 ? objectives[state.axes.y] : null;
  const points = state.trials.filter((t) => t.state === 'completed' && xo && t.metrics[xo.name] !== undefined &&
      t.metrics[xo.name] !== null && (!yo || (t.metrics[yo.name] !== undefined && t.metrics[yo.name] !== null)));
  $('plot-empty').hidden = points.length > 0;
  plot.parentElement.hidden = points.length === 0;  // no empty frame: the note says why
  plot.dataset.points = points.length;
  if (points.length === 0) return;

  const xValue = (t) => t.metrics[xo.name];
  const yValue = (t) => (yo ? t.metrics[yo.name] : 0);
  const [x0, x1] = domain(points.map(xValue));
  const [y0, y1] = domain(points.map(yValue));
  const innerW = PLOT.width - PLOT.left - PLOT.right;
  const innerH = PLOT.height - PLOT.top - PLOT.bottom;
  const sx = (v) => PLOT.left + (v - x0) / (x1 - x0) * innerW;
  const sy = (v) => PLOT.top + innerH - (v - y0) / (y1 - y0) * innerH;

  // Axes, grid and labels.
  const axes = svg('g', {class: 'axes'});
  for (const v of ticks(x0, x1, 8)) {
    axes.append(svg('line', {class: 'gridline', x1: sx(v), x2: sx(v), y1: PLOT.top, y2: PLOT.top + innerH}));
    const label = svg('text', {class: 'tick', x: sx(v), y: PLOT.top + innerH + 18, 'text-anchor': 'middle'});
    label.textContent = fmt(v);
    axes.append(label);
  }
  for (const v of yo ? ticks(y0, y1, 6) : []) {
    axes.append(svg('line', {class: 'gridline', x1: PLOT.left, x2: PLOT.left + innerW, y1: sy(v), y2: sy(v)}));
    const label = svg('text', {class: 'tick', x: PLOT.left - 8, y: sy(v) + 4, 'text-anchor': 'end'});
    label.textContent = fmt(v);
    axes.append(label);
  }
  axes.append(svg('rect', {class: 'frame', x: PLOT.left, y: PLOT.top, width: innerW, height: innerH}));
  const xLabel = svg('text', {class: 'axis-label x-label', x: PLOT.left + innerW / 2, y: PLOT.height - 14,
    'text-anchor': 'middle'});
  xLabel.textContent = xo.name + ' (' + xo.direction + (xo.direction === 'maximize' ? ', better →)' : ', ← better)');
  axes.append(xLabel);
  if (yo) {
    const yLabel = svg('text', {class: 'axis-label y-label', x: -(PLOT.top + innerH / 2), y: 18,
      transform: 'rotate(-90)', 'text-anchor': 'middle'});
    yLabel.textContent = yo.name + ' (' + yo.direction + (yo.direction === 'maximize' ? ', ↑ better)' : ', ↓ better)');
    axes.append(yLabel);
  }
  plot.append(axes);

  // The front's step line: the boundary of what the front dominates in the two plotted objectives, over
  // the front's trials that no other front trial beats in these two (all of them with two objectives).
  const frontPoints = points.filter((t) => state.frontIds.has(t.id));
  if (yo && frontPoints.length > 0) {
    const sign = (o) => (o.direction === 'maximize' ? -1 : 1);  // to minimised values
    const mx = (t) => sign(xo) * xValue(t);
    const my = (t) => sign(yo) * yValue(t);
    const sorted = frontPoints.slice().sort((a, b) => mx(a) - mx(b) || my(a) - my(b));
    const stairs = [];
    for (const t of sorted) {
      if (stairs.length === 0 || my(t) < my(stairs[stairs.length - 1])) stairs.push(t);
    }
    let d = '';
    stairs.forEach((t, i) => {
      if (i === 0) {
        d += 'M' + sx(xValue(t)) + ',' + sy(yValue(t));
      } else {
        d += 'H' + sx(xValue(t)) + 'V' + sy(yValue(t));  // across at the previous level, then down
      }
    });
    plot.append(svg('path', {class: 'front-line', d}));
  }

  // Faint trials first, the front on top.
  const ordered = points.slice().sort((a, b) => Number(state.frontIds.has(a.id)) - Number(state.frontIds.has(b.id)));
  const dots = svg('g', {class: 'points'});
  for (const t of ordered) {
    const onFront = state.frontIds.has(t.id);
    const infeasible = t.violated && t.violated.length > 0;
    const circle = svg('circle', {
      class: onFront ? 'trial front' : infeasible ? 'trial infeasible' : 'trial', 'data-trial-id': t.id,
      cx: sx(xValue(t)), cy: sy(yValue(t)),
      r: onFront ? 5.5 : 4,
    });
    if (state.selected === t.id) circle.classList.add('selected');
    const title = svg('title');
    title.textContent = 'trial ' + t.number + ' (id ' + t.id + ')';
    circle.append(title);
    circle.addEventListener('mouseenter', (event) => showTooltip(t, event));
    circle.addEventListener('mousemove', (event) => moveTooltip(event));
    circle.addEventListener('mouseleave', () => { $('tooltip').hidden = true; });
    circle.addEventListener('click', () => selectTrial(t.id, true));
    dots.append(circle);
  }
  plot.append(dots);
}

function showTooltip(t, event) {
  const tip = $('tooltip');
  const onFront = state.frontIds.has(t.id);
  const rows = [el('div', {className: 'tip-title'}, 'trial ' + t.number + ' · id ' + t.id + (onFront ? ' · on the front' : ''))];
  const table = el('table');
  const objectiveNames = new Set(state.study.objectives.map((o) => o.name));
  for (const [k, v] of Object.entries(t.metrics)) {
    table.append(el('tr', {className: objectiveNames.has(k) ? 'objective' : ''}, el('th', {}, k), el('td', {}, fmt(v))));
  }
  for (const [k, v] of Object.entries(t.params)) table.append(el('tr', {}, el('th', {}, k), el('td', {}, fmt(v))));
  if (t.device) table.append(el('tr', {}, el('th', {}, 'device'), el('td', {}, t.device)));
  if (t.violated && t.violated.length > 0) {
    table.append(el('tr', {className: 'violated'}, el('th', {}, 'infeasible'), el('td', {}, 'breaks ' + t.violated.join(', '))));
  }
  rows.push(table);
  tip.replaceChildren(...rows);
  tip.hidden = false;
  moveTooltip(event);
}

function moveTooltip(event) {
  const tip = $('tooltip');
  const box = tip.parentElement.getBoundingClientRect();
  let x = event.clientX - box.left + 14;
  let y = event.clientY - box.top + 14;
  if (x + tip.offsetWidth > box.width) x = Math.max(0, event.clientX - box.left - tip.offsetWidth - 14);
  if (y + tip.offsetHeight > box.height) y = Math.max(0, event.clientY - box.top - tip.offsetHeight - 14);
  tip.style.left = x + 'px';
  tip.style.top = y + 'px';
}

function selectTrial(id, scroll) {
  state.selected = state.selected === id ? null : id;
  for (const node of document.querySelectorAll('.selected')) node.classList.remove('selected');
  if (state.selected === null) return;
  for (const node of document.querySelectorAll('[data-trial-id="' + id + '"]')) node.classList.add('selected');
  const row = document.querySelector('#trials-table tr[data-trial-id="' + id + '"]');
  if (row && scroll) row.scrollIntoView({block: 'nearest', behavior: 'smooth'});
}

// ---- the trials table ----

function columns() {
  const objectives = state.study.objectives.map((o) => o.name);
  const metricNames = new Set();
  // The spec's parameters in its order, then any others the trials carry.
  const paramNames = specParameters(state.study).map((p) => p.name);
  for (const t of state.trials) {
    for (const k of Object.keys(t.metrics)) if (!objectives.includes(k)) metricNames.add(k);
    for (const k of Object.keys(t.params)) if (!paramNames.includes(k)) paramNames.push(k);
  }
  const cols = [
    {key: 'number', label: '#', get: (t) => t.number, num: true},
    {key: 'id', label: 'id', get: (t) => t.id, num: true},
    {key: 'state', label: 'state', get: (t) => (t.violated && t.violated.length > 0 ? 'infeasible' : t.state)},
    {key: 'front', label: 'front', get: (t) => (state.frontIds.has(t.id) ? '★' : '')},
  ];
  for (const name of paramNames) {
    cols.push({key: 'p:' + name, label: name, get: (t) => t.params[name], param: true,
      num: state.trials.some((t) => typeof t.params[name] === 'number')});
  }
  for (const name of objectives) {
    const o = state.study.objectives.find((x) => x.name === name);
    cols.push({key: 'm:' + name, label: name + (o.direction === 'maximize' ? ' ↑' : ' ↓'),
      get: (t) => t.metrics[name], num: true, objective: true});
  }
  for (const name of [...metricNames].sort()) cols.push({key: 'm:' + name, label: name, get: (t) => t.metrics[name], num: true});
  cols.push({key: 'attempt', label: 'attempt', get: (t) => t.attempt, num: true});
  cols.push({key: 'worker', label: 'worker', get: (t) => t.worker_id || null, num: true});
  cols.push({key: 'duration', label: 'duration', num: true, get: (t) => (t.started_ms ? (t.finished_ms || Date.now()) - t.started_ms : null),
    show: (v) => fmtDuration(v)});
  cols.push({key: 'error', label: 'error', get: (t) => t.error || (t.progress ? 'step ' + t.progress.step : '')});
  return cols;
}

// The trials the table shows: those passing its filters and the parallel coordinates' brushes.
function filteredTrials() {
  const f = state.filters;
  // A bound that is not a number is no bound (for a categorical parameter "from" names the choice).
  const bound = (text, none) => (text.trim() === '' || Number.isNaN(Number(text)) ? none : Number(text));
  const low = bound(f.min, -Infinity);
  const high = bound(f.max, Infinity);
  const choice = f.min.trim();
  return state.trials.filter((t) => {
    const shownState = t.violated && t.violated.length > 0 ? 'infeasible' : t.state;
    if (f.state && shownState !== f.state) return false;
    if (f.front && !state.frontIds.has(t.id)) return false;
    if (f.param) {
      const v = t.params[f.param];
      if (v === undefined) return false;
      if (typeof v === 'number') {
        if (v < low || v > high) return false;
      } else if (choice !== '' && String(v) !== choice) {
        return false;  // a categorical parameter: "from" names the choice
      }
    }
    return inBrushes(t);
  });
}

function renderFilterControls() {
  const select = $('filter-param');
  const names = [''].concat(specParameters(state.study).map((p) => p.name));
  if ([...select.options].map((o) => o.value).join('\n') !== names.join('\n')) {
    select.replaceChildren(...names.map((n) => el('option', {value: n}, n || '—')));
  }
  select.value = state.filters.param;
}

// Numbers compare as numbers, everything else as text with digit runs compared by value ("2" < "10").
function compare(a, b) {
  const missingA = a === undefined || a === null || a === '';
  const missingB = b === undefined || b === null || b === '';
  if (missingA || missingB) return missingA === missingB ? 0 : (missingA ? 1 : -1) * state.sort.dir;  // missing last
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, {numeric: true});
}

function renderTable() {
  const table = $('trials-table');
  const cols = columns();
  if (!cols.some((c) => c.key === state.sort.key)) state.sort = {key: 'number', dir: 1};
  const headRow = table.querySelector('thead tr');
  headRow.replaceChildren();
  for (const c of cols) {
    const th = el('th', {dataset: {key: c.key}, className: (c.num ? 'num ' : '') + (c.objective ? 'objective' : ''),
      title: 'sort by ' + c.label}, c.label);
    if (state.sort.key === c.key) {
      th.setAttribute('aria-sort', state.sort.dir > 0 ? 'ascending' : 'descending');
      th.append(el('span', {className: 'arrow'}, state.sort.dir > 0 ? ' ▲' : ' ▼'));
    }
    th.addEventListener('click', () => {
      state.sort = state.sort.key === c.key ? {key: c.key, dir: -state.sort.dir} : {key: c.key, dir: 1};
      renderTable();
    });
    headRow.append(th);
  }
  const sortCol = cols.find((c) => c.key === state.sort.key);
  renderFilterControls();
  const visible = filteredTrials();
  const count = $('filter-count');
  count.textContent = visible.length === state.trials.length ? '' : visible.length + ' of ' + state.trials.length + ' trials';
  count.dataset.shown = visible.length;
  count.dataset.total = state.trials.length;
  const rows = visible.sort((a, b) => compare(sortCol.get(a), sortCol.get(b)) * state.sort.dir ||
      a.number - b.number);
  const body = table.querySelector('tbody');
  body.replaceChildren();
  for (const t of rows) {
    const tr = el('tr', {dataset: {trialId: t.id, state: t.state},
      className: (state.frontIds.has(t.id) ? 'on-front ' : '') + (state.selected === t.id ? 'selected' : '')});
    for (const c of cols) {
      const v = c.get(t);
      const td = el('td', {className: c.num ? 'num' : ''}, c.show ? c.show(v) : (c.key === 'state' ? stateBadge(v) : fmt(v)));
      if (c.key === 'error' && t.error) td.title = t.error;
      tr.append(td);
    }
    tr.addEventListener('click', () => selectTrial(t.id, false));
    body.append(tr);
  }
}

// ---- start ----

function start() {
  takeToken();
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    state.token = $('token-input').value.trim();
    sessionStorage.setItem('hpo-token', state.token);
    $('token-input').value = '';
    navigate();
  });
  const filterInputs = {'filter-state': 'state', 'filter-param': 'param', 'filter-min': 'min', 'filter-max': 'max'};
  for (const [id, key] of Object.entries(filterInputs)) {
    $(id).addEventListener('input', (event) => {
      state.filters[key] = event.target.value;
      if (state.study) renderTable();
    });
  }
  $('filter-front').addEventListener('change', (event) => {
    state.filters.front = event.target.checked;
    if (state.study) renderTable();
  });
  $('trial-filters').addEventListener('submit', (event) => event.preventDefault());
  const viewPickers = {'history-objective': ['historyObjective', () => renderHistory()],
    'slice-objective': ['sliceObjective', () => renderSlices()], 'curve-metric': ['curveMetric', () => renderCurves()]};
  for (const [id, [key, draw]] of Object.entries(viewPickers)) {
    $(id).addEventListener('change', (event) => {
      state.views[key] = event.target.value;
      if (state.study) draw();
    });
  }
  $('parallel-clear').addEventListener('click', () => {
    state.brushes = {};
    if (state.study) {
      renderParallel();
      renderTable();
    }
  });
  for (const axis of ['x', 'y']) {
    $(axis + '-objective').addEventListener('change', (event) => {
      state.axes[axis] = Number(event.target.value);
      renderPlot();
    });
  }
  window.addEventListener('hashchange', navigate);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) refresh();
  });
  navigate();
}

start();
