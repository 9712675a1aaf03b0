// hpo dashboard: the workers. A card under the studies lists every worker the coordinator has heard from
// since it started (GET /api/v1/workers): its labels, device, slots in use, last heartbeat and state
// (live / lost). On a study's page, a running study that no live worker can serve says so under its title
// ("waiting: no live worker matches selector gpu=H100"), through the hook hpoWorkers.showStudy(study),
// which app.js calls whenever it draws a study.
//
// Hooks for tests: the table is #workers-table (rows tr[data-worker-id][data-state]); the waiting line is
// #study-waiting (hidden when the study is not waiting).
'use strict';

const hpoWorkers = (() => {
  const POLL_MS = 3000;
  const byId = (id) => document.getElementById(id);
  let timer = null;

  function node(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined) n.textContent = String(text);
    return n;
  }

  function ago(ms) {
    if (!ms) return 'never since the coordinator started';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 120) return s + ' s ago';
    if (s < 7200) return Math.round(s / 60) + ' min ago';
    return new Date(ms).toLocaleString();
  }

  function build() {
    const view = byId('studies-view');
    if (!view || byId('workers-card')) return;
    const card = node('section', 'card');
    card.id = 'workers-card';
    const title = node('h2', '', 'Workers ');
    const note = node('span', 'muted small');
    note.id = 'workers-note';
    title.append(note);
    const table = node('table', 'grid');
    table.id = 'workers-table';
    const head = node('tr');
    for (const name of ['id', 'name', 'state', 'device', 'labels', 'slots in use', 'last heartbeat']) {
      head.append(node('th', '', name));
    }
    table.append(node('thead'), node('tbody'));
    table.tHead.append(head);
    const empty = node('p', 'muted', 'No worker has called this coordinator yet. Start one with hpo-worker.');
    empty.id = 'workers-empty';
    empty.hidden = true;
    card.append(title, table, empty);
    view.append(card);
  }

  function render(data) {
    const body = byId('workers-table').tBodies[0];
    body.replaceChildren();
    const workers = data.workers || [];
    byId('workers-empty').hidden = workers.length > 0;
    byId('workers-table').hidden = workers.length === 0;
    const live = workers.filter((w) => w.state === 'live').length;
    byId('workers-note').textContent = '(' + live + ' live of ' + workers.length + '; lost after ' +
        Math.round(data.lost_after_ms / 1000) + ' s without a heartbeat)';
    for (const w of workers) {
      const row = node('tr');
      row.dataset.workerId = w.id;
      row.dataset.state = w.state;
      const labels = Object.entries(w.labels).map(([k, v]) => k + '=' + v).join(', ');
      const state = node('span', 'badge ' + (w.state === 'live' ? 'running' : 'failed'), w.state);
      const cells = [node('td', 'num', w.id), node('td', '', w.name), node('td'), node('td', '', w.device),
        node('td', '', labels), node('td', 'num', w.slots_in_use + ' / ' + w.slots),
        node('td', '', ago(w.last_heartbeat_ms))];
      cells[2].append(state);
      row.append(...cells);
      body.append(row);
    }
  }

  async function poll() {
    clearTimeout(timer);
    timer = setTimeout(poll, POLL_MS);
    const view = byId('studies-view');
    if (!view || view.hidden) return;
    const headers = {Accept: 'application/json'};
    const token = sessionStorage.getItem('hpo-token');
    if (token) headers.Authorization = 'Bearer ' + token;
    try {
      const response = await fetch('/api/v1/workers', {headers, cache: 'no-store'});
      if (response.ok) render(await response.json());
    } catch (e) {
      // The coordinator restarting: the studies view says so; the next poll tries again.
    }
  }

  // Called by app.js with the study it shows (the API's summary: "waiting" says why a running study
  // cannot go on).
  function showStudy(study) {
    let line = byId('study-waiting');
    if (!line) {
      const meta = byId('study-meta');
      if (!meta) return;
      line = node('p', 'error');
      line.id = 'study-waiting';
      line.setAttribute('role', 'status');
      meta.after(line);
    }
    const waiting = study.state === 'running' && study.waiting ? study.waiting : '';
    line.textContent = waiting ? 'waiting: ' + waiting : '';
    line.hidden = !waiting;
  }

  document.addEventListener('DOMContentLoaded', () => {
    build();
    poll();
    window.addEventListener('hashchange', () => setTimeout(poll, 0));
  });
  return {showStudy};
})();
window.hpoWorkers = hpoWorkers;
