// The run page: the comparison board on top, then one column per variation, filled from
// the run's stream (which replays the whole history first, so a reload or a later visit
// shows everything), the diffs when variations finish, choosing the winner and cancelling.

import { api } from './api.js';
import { Board } from './board.js';
import { initChrome } from './chrome.js';
import { Column } from './column.js';
import { el, repoLink, role } from './dom.js';
import { plural, when } from './format.js';
import { followRun } from './stream.js';

const RUN_ENDED = new Set(['completed', 'failed', 'cancelled']);
const RUN_STATUS_SHOWN = { started: 'running' };

const head = document.getElementById('run');
const runId = head.dataset.runId;
const columns = new Map();
const board = new Board({ onChoose: (index) => choose(index) });
let runStatus = null;

// Rendering: once per animation frame while live; while the stream replays what was
// stored before the page opened (the first `replayed` events), a few times a second, so a
// long history is laid out once or twice rather than on every frame.
let replayed = 0;
let lastRender = 0;
let pending = null;   // a render is scheduled: {soon, timer}

function scheduleRender(id) {
  const replaying = id > 0 && id < replayed;
  if (pending && (replaying || pending.soon)) return;
  if (pending) clearTimeout(pending.timer);
  const delay = replaying ? Math.max(0, lastRender + 400 - performance.now()) : 0;
  pending = { soon: !replaying };
  if (delay) pending.timer = setTimeout(() => requestAnimationFrame(renderAll), delay);
  else requestAnimationFrame(renderAll);
}

function renderAll() {
  if (!pending) return;
  pending = null;
  lastRender = performance.now();
  for (const column of columns.values()) column.transcript.render();
  for (const column of columns.values()) column.transcript.settle();
}

function setRunStatus(status) {
  status = RUN_STATUS_SHOWN[status] || status;
  // An ended run never runs again: a replay of its history must not flip it back.
  if (status === runStatus || (RUN_ENDED.has(runStatus) && !RUN_ENDED.has(status))) return;
  runStatus = status;
  head.dataset.status = status;
  const badge = role(head, 'run-status');
  badge.className = `badge status-${status}`;
  badge.textContent = status;
  role(head, 'cancel').hidden = RUN_ENDED.has(status) || status === 'cancelling';
}

function pageError(message) {
  const node = role(head, 'page-error');
  node.textContent = message;
  node.hidden = !message;
}

// The variation this run iterates on, and the runs that iterate on this one.
function lineage(run) {
  const link = (id) => el('a', { href: encodeURIComponent(id), text: id });
  const parts = [];
  if (run.parent) {
    parts.push(el('span', { class: 'run-parent', dataset: { role: 'parent' } }, ' · from ',
      link(run.parent.run_id), `, variation ${run.parent.variation_id}`));
  }
  if (run.children?.length) {
    const children = el('span', { class: 'run-children', dataset: { role: 'children' } }, ' · iterated on by ');
    run.children.forEach((id, i) => children.append(...(i ? [', '] : []), link(id)));
    parts.push(children);
  }
  return parts;
}

function showHead(run) {
  role(head, 'meta').replaceChildren(repoLink(run.github_url),
    ` · ${plural(run.variations.length, 'variation')} · started ${when(run.created_at)} · ${run.runtime} runtime`,
    ...lineage(run));
  const prompt = role(head, 'prompt');
  prompt.textContent = run.prompt;
  prompt.title = 'Click to show the whole prompt';
  prompt.addEventListener('click', () => prompt.classList.toggle('expanded'));
}

function showWinner(selection) {
  const node = role(head, 'winner');
  node.hidden = !selection;
  if (selection) {
    node.replaceChildren(el('strong', { text: `Winner: Variation ${selection.winning_variation_id}` }),
      ` · chosen ${when(selection.selected_at)}`);
  }
  for (const column of columns.values()) {
    column.setWinner(Boolean(selection) && column.index === selection.winning_variation_id);
  }
  if (board.data) {
    board.update({ ...board.data, winning_variation_id: selection ? selection.winning_variation_id : null });
  }
}

// -- what the API says (at load, and when variations end) --------------------------------

let refreshing = null;
let refreshAgain = false;

function refreshSoon() {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = refresh().catch((err) => pageError(err.message)).finally(() => {
    refreshing = null;
    if (refreshAgain) {
      refreshAgain = false;
      refreshSoon();
    }
  });
}

async function refresh() {
  const [run, comparison] = await Promise.all([api.getRun(runId), api.getComparison(runId)]);
  board.update(comparison);
  apply(run);
  await Promise.all(run.variations.map(async (variation) => {
    const column = columns.get(variation.variation_id);
    if (!column || column.diffShown || !variation.outcome?.diff_url) return;
    column.showDiff(await api.getDiff(runId, variation.variation_id));
  }));
}

function apply(run) {
  if (RUN_ENDED.has(run.status)) setRunStatus(run.status);
  for (const variation of run.variations) columns.get(variation.variation_id)?.apply(variation);
  showWinner(run.selection);
}

// -- the stream ----------------------------------------------------------------------------

function onEvent(name, data, id) {
  const column = data.variation_id === undefined ? null : columns.get(data.variation_id);
  switch (name) {
    case 'agent_output':
      column?.entries.output(data);
      // A check's result changes the board (and the baseline's, every row's "newly").
      if (data.type === 'check_finished') refreshSoon();
      break;
    case 'status':
      if (column) {
        column.entries.note(data.message || data.status, 'system');
        column.setStatus(data.status);
        if (data.usage) column.setUsage(data.usage);
      } else {
        setRunStatus(data.status);
        role(head, 'message').textContent = data.message || '';
      }
      break;
    case 'job_completed':
      column?.setStatus('succeeded');
      column?.entries.note('The variation succeeded.', 'system');
      refreshSoon();
      break;
    case 'error':
      column?.setStatus(data.status || 'failed');
      column?.fail(data.error);
      column?.entries.note(data.error, 'error');
      refreshSoon();
      break;
    case 'run_finished':
      setRunStatus(data.status);
      refreshSoon();
      break;
    default:
      break;
  }
  scheduleRender(id);
}

const CONNECTION = {
  live: ['live', 'Live'],
  reconnecting: ['waiting', 'Reconnecting…'],
  offline: ['waiting', 'Connection lost; retrying…'],
};

function onConnection(state) {
  const node = role(head, 'connection');
  const shown = CONNECTION[state];
  node.hidden = !shown || RUN_ENDED.has(runStatus);
  if (shown) {
    node.className = `conn ${shown[0]}`;
    node.textContent = shown[1];
  }
}

// -- actions ---------------------------------------------------------------------------------

async function choose(index) {
  try {
    const chosen = await api.select(runId, index);
    showWinner(chosen);
  } catch (err) {
    pageError(`Could not record the winner: ${err.message}`);
  }
}

async function cancel(event) {
  const button = event.currentTarget;
  button.disabled = true;
  button.textContent = 'Cancelling…';
  try {
    await api.cancel(runId);
    setRunStatus('cancelling');
  } catch (err) {
    if (err.status !== 409) pageError(`Could not cancel: ${err.message}`);
    refreshSoon();
  } finally {
    button.disabled = false;
    button.textContent = 'Cancel run';
  }
}

async function start() {
  initChrome();
  role(head, 'cancel').addEventListener('click', cancel);
  let run;
  try {
    run = await api.getRun(runId);
  } catch (err) {
    setRunStatus('unknown');
    pageError(err.status === 404 ? `There is no run ${runId}.` : err.message);
    return;
  }
  showHead(run);
  role(document, 'board-slot').replaceWith(board.node);
  const nav = role(document, 'column-nav');
  const grid = role(document, 'columns');
  grid.style.setProperty('--columns', String(run.variations.length));
  for (const variation of run.variations) {
    const column = new Column(variation, {
      onChoose: choose, runId, runPrompt: run.prompt,
      // A run from a local repository with no GitHub remote has no pull request to offer.
      onGitHub: run.github_url.startsWith('https://github.com/'),
    });
    column.transcript.onFollow = () => scheduleRender(0);
    columns.set(column.index, column);
    grid.append(column.node);
    nav.append(column.chip);
  }
  setRunStatus(run.status);
  apply(run);
  refreshSoon();   // the board
  replayed = run.event_count || 0;
  followRun(runId, { onEvent, onConnection });
}

start();
