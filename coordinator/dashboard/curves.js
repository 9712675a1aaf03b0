// hpo dashboard: learning curves: each trial's progress reports (the builtin trainer's epochs, a command
// task's "step" lines, an ask/tell client's reports), one line per trial of a chosen metric by step.
// Running trials are drawn in the running colour, pruned ones (stopped early by the study's pruner) in
// amber ending where they were stopped, completed ones faint, the front's on top.
//
// Hooks for tests and scripts: <path class="curve" data-trial-id data-state data-points="[[step, value],
// ...]"> per trial with at least one report of the metric.
'use strict';

// The metrics the trials reported progress on, the objectives first.
function progressMetrics() {
  const names = new Set();
  for (const t of state.trials) {
    for (const step of t.history || []) for (const k of Object.keys(step.metrics)) names.add(k);
  }
  const objectives = state.study.objectives.map((o) => o.name).filter((n) => names.has(n));
  return objectives.concat([...names].filter((n) => !objectives.includes(n)).sort());
}

function renderCurves() {
  const node = $('curves-plot');
  const metrics = progressMetrics();
  const name = fillSelect($('curve-metric'), metrics, state.views.curveMetric);
  state.views.curveMetric = name;
  const curves = [];
  for (const t of state.trials) {
    const points = (t.history || []).filter((s) => typeof s.metrics[name] === 'number').map((s) => [s.step, s.metrics[name]]);
    if (points.length > 0) curves.push({t, points});
  }
  $('curves-empty').hidden = curves.length > 0;
  node.hidden = curves.length === 0;
  $('curve-metric').parentElement.hidden = metrics.length <= 1;
  if (curves.length === 0) {
    node.replaceChildren();
    return;
  }
  const steps = curves.flatMap((c) => c.points.map((p) => p[0]));
  const maxStep = Math.max(...steps, 1);
  const minStep = Math.min(...steps, 0);
  const xs = valueScale([minStep, maxStep], 8);
  const ys = valueScale(curves.flatMap((c) => c.points.map((p) => p[1])), 5);
  const {px, py} = frame(node, WIDE, xs.ticks, ys.ticks, 'step', name);
  const rank = (c) => (state.frontIds.has(c.t.id) ? 3 : c.t.state === 'running' ? 2 : c.t.state === 'pruned' ? 1 : 0);
  const lines = svg('g', {class: 'curves'});
  for (const c of curves.sort((a, b) => rank(a) - rank(b) || a.t.number - b.t.number)) {
    const d = c.points.map(([s, v], i) => (i === 0 ? 'M' : 'L') + px(xs.at(s)).toFixed(1) + ',' + py(ys.at(v)).toFixed(1)).join('');
    const path = svg('path', {class: 'curve ' + c.t.state + (state.frontIds.has(c.t.id) ? ' front' : ''), d,
      'data-trial-id': c.t.id, 'data-state': c.t.state, 'data-points': JSON.stringify(c.points)});
    const title = svg('title');
    title.textContent = 'trial ' + c.t.number + ' (' + c.t.state + '): ' + c.points.length + ' steps, last ' +
        fmt(c.points[c.points.length - 1][1]);
    path.append(title);
    path.addEventListener('click', () => selectTrial(c.t.id, true));
    lines.append(path);
    if (c.points.length === 1) {  // a single report: a dot, as a path of one point draws nothing
      const [s, v] = c.points[0];
      lines.append(svg('circle', {class: 'curve-dot ' + c.t.state, cx: px(xs.at(s)), cy: py(ys.at(v)), r: 2.5}));
    }
  }
  node.append(lines);
}
