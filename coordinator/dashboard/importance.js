// hpo dashboard: parameter importance for each objective, as the coordinator computes it
// (/api/v1/studies/ID/analysis: fANOVA on a random forest, the same numbers as `hpoctl analyze` and
// AnalyzeStudy): one bar chart per objective, most important first, with the standard deviation over the
// forest's trees as a whisker.
//
// Hooks for tests and scripts: <svg class="importance-plot" data-objective> per objective, each bar
// <rect class="importance-bar" data-objective data-parameter data-importance data-stddev>.
'use strict';

const BARS = {left: 150, right: 70, top: 8, row: 24, width: 560};

function renderImportance() {
  const box = $('importance-plots');
  const analysis = state.analysis;
  const importance = analysis ? analysis.importance : [];
  $('importance-method').textContent = analysis ? analysis.method : '';
  $('importance-empty').hidden = importance.length > 0;
  box.replaceChildren();
  for (const objective of importance) {
    const params = objective.parameters;
    const height = BARS.top + params.length * BARS.row + 26;
    const node = svg('svg', {class: 'importance-plot', 'data-objective': objective.objective,
      viewBox: '0 0 ' + BARS.width + ' ' + height, role: 'img',
      'aria-label': 'parameter importance for ' + objective.objective});
    const innerW = BARS.width - BARS.left - BARS.right;
    const title = svg('text', {class: 'axis-label', x: 0, y: height - 6});
    title.textContent = objective.objective + ' · ' + objective.trials + ' completed trials';
    node.append(title);
    params.forEach((p, i) => {
      const y = BARS.top + i * BARS.row;
      const label = svg('text', {class: 'tick bar-label', x: BARS.left - 8, y: y + 15, 'text-anchor': 'end'});
      label.textContent = p.parameter;
      node.append(label);
      node.append(svg('rect', {class: 'bar-track', x: BARS.left, y: y + 3, width: innerW, height: 16}));
      const bar = svg('rect', {class: 'importance-bar', x: BARS.left, y: y + 3, width: Math.max(0, p.importance) * innerW,
        height: 16, 'data-objective': objective.objective, 'data-parameter': p.parameter,
        'data-importance': p.importance, 'data-stddev': p.stddev});
      const tip = svg('title');
      tip.textContent = p.parameter + ': ' + fmt(p.importance) + ' ± ' + fmt(p.stddev);
      bar.append(tip);
      node.append(bar);
      const lo = Math.max(0, p.importance - p.stddev);
      const hi = Math.min(1, p.importance + p.stddev);
      node.append(svg('line', {class: 'whisker', x1: BARS.left + lo * innerW, x2: BARS.left + hi * innerW, y1: y + 11,
        y2: y + 11}));
      const value = svg('text', {class: 'tick', x: BARS.left + innerW + 6, y: y + 15});
      value.textContent = (100 * p.importance).toFixed(1) + '%';
      node.append(value);
    });
    box.append(node);
  }
}
