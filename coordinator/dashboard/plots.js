// hpo dashboard: the study's analysis views that plot trials on axes: a shared frame (scales, ticks,
// labels), the optimisation history (an objective by trial number with its best so far, and the
// hypervolume of the front as trials complete) and the slice plots (an objective against each parameter).
// Loaded before app.js, whose helpers (svg, el, fmt, ticks, domain, state) these call when they draw.
//
// Hooks for tests and scripts: history points are <circle class="history-point" data-trial-id
// data-number data-value>, the best-so-far line <path class="best-line" data-points="[[n, v], ...]">,
// hypervolume points <circle class="hv-point" data-number data-value>; slice points are
// <circle class="slice-point" data-parameter data-trial-id data-x data-y> (data-x the parameter's value as
// the API gives it, a choice for a categorical).
'use strict';

const SMALL = {width: 360, height: 240, left: 58, right: 12, top: 12, bottom: 44};
const WIDE = {width: 760, height: 300, left: 78, right: 24, top: 14, bottom: 50};

// The spec's parameters (name, kind, log, choices), in its order.
function specParameters(study) {
  const spec = study.spec || {};
  return (spec.parameters || []).map((p) => {
    if (p.categorical) return {name: p.name, kind: 'categorical', choices: p.categorical.choices || []};
    const range = p.float || p.int || {};
    return {name: p.name, kind: p.float ? 'float' : 'int', log: !!range.log, low: Number(range.low),
      high: Number(range.high)};
  });
}

// A scale for a parameter's values: position in [0, 1] of a value (at), the value at a position (value;
// for a categorical, the choice whose band holds it), and tick values with labels.
function parameterScale(param, values) {
  if (param.kind === 'categorical') {
    const n = Math.max(param.choices.length, 1);
    const index = (v) => param.choices.indexOf(String(v));
    return {
      at: (v) => (index(v) + 0.5) / n,
      value: (u) => param.choices[Math.min(n - 1, Math.max(0, Math.floor(u * n)))],
      ticks: param.choices.map((c, i) => ({at: (i + 0.5) / n, label: c})),
      valid: (v) => index(v) >= 0,
    };
  }
  const numbers = values.filter((v) => typeof v === 'number' && isFinite(v));
  let low = isFinite(param.low) ? param.low : Math.min(...numbers);
  let high = isFinite(param.high) ? param.high : Math.max(...numbers);
  if (numbers.length > 0) {
    low = Math.min(low, ...numbers);
    high = Math.max(high, ...numbers);
  }
  if (param.log && low > 0) {
    const l0 = Math.log10(low);
    const l1 = Math.log10(high);
    const span = l1 > l0 ? l1 - l0 : 1;
    const at = (v) => (Math.log10(v) - l0) / span;
    const out = [];
    for (let e = Math.ceil(l0 - 1e-9); e <= l1 + 1e-9; e++) out.push({at: at(Math.pow(10, e)), label: fmt(Math.pow(10, e))});
    if (out.length < 2) out.push({at: 0, label: fmt(low)}, {at: 1, label: fmt(high)});
    return {at, value: (u) => Math.pow(10, l0 + u * span), ticks: out, valid: (v) => typeof v === 'number' && v > 0};
  }
  if (!(high > low)) {
    low -= 1;
    high += 1;
  }
  const at = (v) => (v - low) / (high - low);
  return {at, value: (u) => low + u * (high - low), ticks: ticks(low, high, 5).map((v) => ({at: at(v), label: fmt(v)})),
    valid: (v) => typeof v === 'number' && isFinite(v)};
}

// Draws axes into `node` (an <svg>) for x and y scales in [0, 1] with their ticks; returns the pixel
// mappings. xTicks/yTicks: [{at, label}].
function frame(node, box, xTicks, yTicks, xLabel, yLabel) {
  node.replaceChildren();
  node.setAttribute('viewBox', '0 0 ' + box.width + ' ' + box.height);
  const innerW = box.width - box.left - box.right;
  const innerH = box.height - box.top - box.bottom;
  const px = (u) => box.left + u * innerW;
  const py = (u) => box.top + innerH - u * innerH;
  const axes = svg('g', {class: 'axes'});
  for (const t of xTicks) {
    if (t.at < -1e-9 || t.at > 1 + 1e-9) continue;
    axes.append(svg('line', {class: 'gridline', x1: px(t.at), x2: px(t.at), y1: box.top, y2: box.top + innerH}));
    const label = svg('text', {class: 'tick', x: px(t.at), y: box.top + innerH + 15, 'text-anchor': 'middle'});
    label.textContent = t.label;
    axes.append(label);
  }
  for (const t of yTicks) {
    if (t.at < -1e-9 || t.at > 1 + 1e-9) continue;
    axes.append(svg('line', {class: 'gridline', x1: box.left, x2: box.left + innerW, y1: py(t.at), y2: py(t.at)}));
    const label = svg('text', {class: 'tick', x: box.left - 6, y: py(t.at) + 4, 'text-anchor': 'end'});
    label.textContent = t.label;
    axes.append(label);
  }
  axes.append(svg('rect', {class: 'frame', x: box.left, y: box.top, width: innerW, height: innerH}));
  const xl = svg('text', {class: 'axis-label x-label', x: box.left + innerW / 2, y: box.height - 8,
    'text-anchor': 'middle'});
  xl.textContent = xLabel;
  const yl = svg('text', {class: 'axis-label y-label', x: -(box.top + innerH / 2), y: 14, transform: 'rotate(-90)',
    'text-anchor': 'middle'});
  yl.textContent = yLabel;
  axes.append(xl, yl);
  node.append(axes);
  return {px, py};
}

// A linear scale over numbers (with a margin), as [0, 1] positions and ticks.
function valueScale(values, count) {
  const [low, high] = domain(values.length ? values : [0, 1]);
  return {at: (v) => (v - low) / (high - low), value: (u) => low + u * (high - low), ticks: ticks(low, high, count).map((v) => ({at: (v - low) / (high - low), label: fmt(v)}))};
}

function objectiveValue(t, name) {
  const v = t.metrics[name];
  return typeof v === 'number' && isFinite(v) ? v : null;
}

function fillSelect(select, names, current) {
  if ([...select.options].map((o) => o.value).join('\n') !== names.join('\n')) {
    select.replaceChildren(...names.map((n) => el('option', {value: n}, n)));
  }
  select.value = names.includes(current) ? current : names[0] || '';
  return select.value;
}

function objectiveLabel(o) {
  return o.name + ' (' + (o.direction === 'maximize' ? 'max' : 'min') + ')';
}

// ---- optimisation history ----

function renderHistory() {
  const objectives = state.study.objectives;
  const name = fillSelect($('history-objective'), objectives.map((o) => o.name), state.views.historyObjective);
  state.views.historyObjective = name;
  const objective = objectives.find((o) => o.name === name);
  const node = $('history-plot');
  const done = state.trials.filter((t) => (t.state === 'completed' || t.state === 'pruned') &&
      objectiveValue(t, name) !== null);
  $('history-empty').hidden = done.length > 0;
  node.hidden = done.length === 0;
  if (!objective || done.length === 0) {
    node.replaceChildren();
  } else {
    const maxNumber = Math.max(...state.trials.map((t) => t.number), 1);
    const xs = {at: (n) => n / maxNumber, ticks: ticks(0, maxNumber, 8).map((n) => ({at: n / maxNumber, label: fmt(n)}))};
    const ys = valueScale(done.map((t) => objectiveValue(t, name)), 5);
    const {px, py} = frame(node, WIDE, xs.ticks, ys.ticks, 'trial number', objectiveLabel(objective));
    // Best so far, over the completed trials by number (a pruned trial's value is not a result).
    const better = objective.direction === 'maximize' ? (a, b) => a > b : (a, b) => a < b;
    const best = [];
    for (const t of done.filter((x) => x.state === 'completed').sort((a, b) => a.number - b.number)) {
      const v = objectiveValue(t, name);
      if (best.length === 0 || better(v, best[best.length - 1][1])) best.push([t.number, v]);
      else best.push([t.number, best[best.length - 1][1]]);
    }
    if (best.length > 0) {
      let d = 'M' + px(xs.at(best[0][0])) + ',' + py(ys.at(best[0][1]));
      for (const [n, v] of best.slice(1)) d += 'H' + px(xs.at(n)) + 'V' + py(ys.at(v));
      node.append(svg('path', {class: 'best-line', d, 'data-points': JSON.stringify(best)}));
    }
    const dots = svg('g', {class: 'points'});
    for (const t of done) {
      const v = objectiveValue(t, name);
      const c = svg('circle', {class: 'history-point' + (state.frontIds.has(t.id) ? ' front' : '') +
          (t.state === 'pruned' ? ' pruned' : ''), cx: px(xs.at(t.number)), cy: py(ys.at(v)), r: 3.5,
        'data-trial-id': t.id, 'data-number': t.number, 'data-value': v});
      const title = svg('title');
      title.textContent = 'trial ' + t.number + ': ' + name + ' ' + fmt(v) + (t.state === 'pruned' ? ' (pruned)' : '');
      c.append(title);
      c.addEventListener('click', () => selectTrial(t.id, true));
      dots.append(c);
    }
    node.append(dots);
  }
  renderHypervolumeHistory();
}

function renderHypervolumeHistory() {
  const node = $('hv-plot');
  const history = state.analysis && state.analysis.front ? state.analysis.front.history : [];
  node.hidden = history.length === 0;
  if (history.length === 0) {
    node.replaceChildren();
    return;
  }
  const maxNumber = Math.max(...state.trials.map((t) => t.number), 1);
  const xs = {at: (n) => n / maxNumber, ticks: ticks(0, maxNumber, 8).map((n) => ({at: n / maxNumber, label: fmt(n)}))};
  const ys = valueScale(history.map((h) => h[1]).concat([0]), 5);
  const {px, py} = frame(node, Object.assign({}, WIDE, {height: 220}), xs.ticks, ys.ticks, 'trial number',
      'hypervolume');
  let d = '';
  history.forEach(([n, v], i) => {
    d += (i === 0 ? 'M' + px(xs.at(n)) : 'H' + px(xs.at(n))) + (i === 0 ? ',' + py(ys.at(v)) : 'V' + py(ys.at(v)));
  });
  node.append(svg('path', {class: 'hv-line', d}));
  const dots = svg('g', {class: 'points'});
  for (const [n, v] of history) {
    const c = svg('circle', {class: 'hv-point', cx: px(xs.at(n)), cy: py(ys.at(v)), r: 2.5, 'data-number': n,
      'data-value': v});
    const title = svg('title');
    title.textContent = 'after trial ' + n + ': ' + fmt(v);
    c.append(title);
    dots.append(c);
  }
  node.append(dots);
}

// ---- slice plots ----

function renderSlices() {
  const objectives = state.study.objectives;
  const name = fillSelect($('slice-objective'), objectives.map((o) => o.name), state.views.sliceObjective);
  state.views.sliceObjective = name;
  const objective = objectives.find((o) => o.name === name);
  const params = specParameters(state.study);
  const box = $('slice-plots');
  const done = state.trials.filter((t) => t.state === 'completed' && objectiveValue(t, name) !== null);
  $('slice-empty').hidden = done.length > 0 && params.length > 0;
  box.replaceChildren();
  if (!objective || done.length === 0) return;
  const ys = valueScale(done.map((t) => objectiveValue(t, name)), 4);
  for (const param of params) {
    const node = svg('svg', {class: 'slice-plot', 'data-parameter': param.name, role: 'img',
      'aria-label': name + ' against ' + param.name});
    const xs = parameterScale(param, done.map((t) => t.params[param.name]));
    const {px, py} = frame(node, SMALL, xs.ticks, ys.ticks, param.name + (param.log ? ' (log)' : ''),
        objectiveLabel(objective));
    const dots = svg('g', {class: 'points'});
    for (const t of done) {
      const x = t.params[param.name];
      if (x === undefined || !xs.valid(x)) continue;  // inactive (a conditional parameter)
      const y = objectiveValue(t, name);
      const c = svg('circle', {class: 'slice-point' + (state.frontIds.has(t.id) ? ' front' : ''), cx: px(xs.at(x)),
        cy: py(ys.at(y)), r: 3, 'data-parameter': param.name, 'data-trial-id': t.id, 'data-x': x, 'data-y': y});
      const title = svg('title');
      title.textContent = 'trial ' + t.number + ': ' + param.name + ' ' + fmt(x) + ', ' + name + ' ' + fmt(y);
      c.append(title);
      c.addEventListener('click', () => selectTrial(t.id, true));
      dots.append(c);
    }
    node.append(dots);
    box.append(node);
  }
}
