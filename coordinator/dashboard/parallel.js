// hpo dashboard: parallel coordinates of the completed trials: one vertical axis per parameter (the
// spec's order; log-scaled where the parameter is, categories spaced evenly) and per objective, one line
// per trial, the front's trials drawn on top in the front's colour. Dragging along an axis brushes a
// range: trials outside any brush are dimmed here and left out of the trials table (which then shows
// the completed trials in every brushed range); a click on an axis clears its brush.
//
// Hooks for tests and scripts: <g class="pc-axis" data-key> ("p:NAME" or "m:NAME"); each trial's
// <path class="pc-line" data-trial-id data-values='{"p:lr": 0.01, ...}'> (class "front" on the front,
// "dimmed" outside the brushes); a brush is <rect class="pc-brush" data-key data-low data-high> (in the
// axis's units). hpoBrush(key, low, high) sets a brush as a drag would (low/high in the axis's units,
// choice names for a categorical axis; null clears it).
'use strict';

const PC = {width: 1100, height: 380, left: 40, right: 40, top: 28, bottom: 34};

// The axes: parameters then objectives, each with a scale to [0, 1] and a way to read a trial's value.
function parallelAxes(trials) {
  const axes = [];
  for (const p of specParameters(state.study)) {
    const scale = parameterScale(p, trials.map((t) => t.params[p.name]));
    axes.push({key: 'p:' + p.name, label: p.name + (p.log ? ' (log)' : ''), scale, categorical: p.kind === 'categorical',
      choices: p.choices, value: (t) => t.params[p.name]});
  }
  for (const o of state.study.objectives) {
    const scale = valueScale(trials.map((t) => objectiveValue(t, o.name)).filter((v) => v !== null), 5);
    scale.valid = (v) => typeof v === 'number' && isFinite(v);
    axes.push({key: 'm:' + o.name, label: objectiveLabel(o), scale, objective: true, value: (t) => objectiveValue(t, o.name)});
  }
  return axes;
}

// True when trial `t` lies in every brushed range (inactive or missing values lie in none). With a brush
// set, only completed trials (those the plot draws) can.
function inBrushes(t) {
  if (Object.keys(state.brushes).length > 0 && t.state !== 'completed') return false;
  for (const [key, [lo, hi]] of Object.entries(state.brushes)) {
    const axis = (state.views.pcAxes || []).find((a) => a.key === key);
    if (!axis) continue;
    const v = axis.value(t);
    if (v === undefined || v === null || !axis.scale.valid(v)) return false;
    const u = axis.scale.at(v);
    if (u < lo - 1e-9 || u > hi + 1e-9) return false;
  }
  return true;
}

function renderParallel() {
  const node = $('parallel-plot');
  const trials = state.trials.filter((t) => t.state === 'completed');
  $('parallel-empty').hidden = trials.length > 0;
  node.hidden = trials.length === 0;
  node.replaceChildren();
  if (trials.length === 0) return;
  const axes = parallelAxes(trials);
  state.views.pcAxes = axes;
  for (const key of Object.keys(state.brushes)) {
    if (!axes.some((a) => a.key === key)) delete state.brushes[key];
  }
  const innerH = PC.height - PC.top - PC.bottom;
  const step = axes.length > 1 ? (PC.width - PC.left - PC.right) / (axes.length - 1) : 0;
  const ax = (i) => PC.left + i * step;
  const py = (u) => PC.top + innerH - u * innerH;

  const lines = svg('g', {class: 'pc-lines'});
  // The dominated trials first, the front on top.
  const ordered = trials.slice().sort((a, b) => Number(state.frontIds.has(a.id)) - Number(state.frontIds.has(b.id)));
  let shown = 0;
  for (const t of ordered) {
    let d = '';
    let pen = 'M';
    const values = {};
    axes.forEach((a, i) => {
      const v = a.value(t);
      if (v === undefined || v === null || !a.scale.valid(v)) {
        pen = 'M';  // an inactive parameter: the line breaks there
        return;
      }
      values[a.key] = v;
      d += pen + ax(i).toFixed(1) + ',' + py(a.scale.at(v)).toFixed(1);
      pen = 'L';
    });
    const inside = inBrushes(t);
    if (inside) shown += 1;
    const path = svg('path', {class: 'pc-line' + (state.frontIds.has(t.id) ? ' front' : '') + (inside ? '' : ' dimmed'),
      d, 'data-trial-id': t.id, 'data-values': JSON.stringify(values)});
    const title = svg('title');
    title.textContent = 'trial ' + t.number + (state.frontIds.has(t.id) ? ' (on the front)' : '');
    path.append(title);
    path.addEventListener('click', () => selectTrial(t.id, true));
    lines.append(path);
  }
  node.append(lines);

  axes.forEach((a, i) => {
    const g = svg('g', {class: 'pc-axis' + (a.objective ? ' objective' : ''), 'data-key': a.key});
    g.append(svg('line', {class: 'pc-axis-line', x1: ax(i), x2: ax(i), y1: PC.top, y2: PC.top + innerH}));
    for (const t of a.scale.ticks) {
      if (t.at < -1e-9 || t.at > 1 + 1e-9) continue;
      const label = svg('text', {class: 'tick', x: ax(i) - 5, y: py(t.at) + 4, 'text-anchor': 'end'});
      label.textContent = t.label;
      g.append(label);
    }
    const name = svg('text', {class: 'axis-label', x: ax(i), y: PC.top - 12, 'text-anchor': 'middle'});
    name.textContent = a.label;
    g.append(name);
    const brush = state.brushes[a.key];
    if (brush) {
      g.append(svg('rect', {class: 'pc-brush', x: ax(i) - 7, y: py(brush[1]), width: 14,
        height: Math.max(1, py(brush[0]) - py(brush[1])), 'data-key': a.key, 'data-low': unitToValue(a, brush[0]),
        'data-high': unitToValue(a, brush[1])}));
    }
    const hit = svg('rect', {class: 'pc-hit', x: ax(i) - 12, y: PC.top, width: 24, height: innerH});
    hit.addEventListener('pointerdown', (event) => startBrush(event, a, node, py, innerH));
    g.append(hit);
    node.append(g);
  });
  $('parallel-count').textContent = Object.keys(state.brushes).length
      ? shown + ' of ' + trials.length + ' completed trials in the brushed ranges'
      : '';
  $('parallel-clear').hidden = Object.keys(state.brushes).length === 0;
}

// The axis value at unit position u (a categorical axis gives the choice whose band holds it).
function unitToValue(axis, u) {
  return axis.scale.value(u);
}

function startBrush(event, axis, node, py, innerH) {
  event.preventDefault();
  const toUnit = (e) => {
    const point = node.createSVGPoint();
    point.x = e.clientX;
    point.y = e.clientY;
    const local = point.matrixTransform(node.getScreenCTM().inverse());
    return Math.min(1, Math.max(0, (py(0) - local.y) / innerH));
  };
  const from = toUnit(event);
  let moved = false;
  const move = (e) => {
    const to = toUnit(e);
    if (Math.abs(to - from) < 0.01) return;
    moved = true;
    state.brushes[axis.key] = [Math.min(from, to), Math.max(from, to)];
    renderParallel();
  };
  const up = () => {
    window.removeEventListener('pointermove', move);
    window.removeEventListener('pointerup', up);
    if (!moved) delete state.brushes[axis.key];
    renderParallel();
    renderTable();
  };
  window.addEventListener('pointermove', move);
  window.addEventListener('pointerup', up);
}

// Sets (or with low === null clears) the brush on axis `key`, in the axis's units.
function hpoBrush(key, low, high) {
  const axis = (state.views.pcAxes || []).find((a) => a.key === key);
  if (!axis) throw new Error('no axis ' + key);
  if (low === null || low === undefined) {
    delete state.brushes[key];
  } else {
    const a = axis.scale.at(low);
    const b = axis.scale.at(high);
    state.brushes[key] = [Math.min(a, b), Math.max(a, b)];
  }
  renderParallel();
  renderTable();
  return [...document.querySelectorAll('#parallel-plot path.pc-line:not(.dimmed)')].map((p) => Number(p.dataset.trialId));
}
window.hpoBrush = hpoBrush;
