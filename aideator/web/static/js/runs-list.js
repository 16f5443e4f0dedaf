// The runs list: newest first, a page at a time with the API's cursor.

import { api } from './api.js';
import { initChrome } from './chrome.js';
import { el, repoLink } from './dom.js';
import { clip, when } from './format.js';

const table = document.getElementById('runs');
const more = document.getElementById('more-runs');
const error = document.querySelector('[data-role="list-error"]');
let cursor = null;

function row(run) {
  const link = el('a', { href: `runs/${encodeURIComponent(run.run_id)}`, text: clip(run.prompt, 140) });
  return el('tr', { dataset: { runId: run.run_id } },
    el('td', { class: 'when', text: when(run.created_at) }),
    el('td', { class: 'what' }, link, el('div', { class: 'muted' }, repoLink(run.github_url), ` · ${run.run_id}`,
      ...(run.parent ? [' · from ', el('a', { href: `runs/${encodeURIComponent(run.parent.run_id)}`, class: 'run-parent', text: `${run.parent.run_id} #${run.parent.variation_id}` })] : []))),
    el('td', {}, el('span', { class: `badge status-${run.status}`, text: run.status })),
    el('td', { class: 'num', dataset: { label: 'Variations' }, text: String(run.variations) }),
    el('td', { class: 'num', dataset: { label: 'Winner' } },
      run.winning_variation_id === null ? el('span', { class: 'muted', text: '–' })
        : el('span', { class: 'badge winner', text: `Variation ${run.winning_variation_id}` })));
}

async function load() {
  more.disabled = true;
  try {
    const page = await api.listRuns(cursor);
    table.tBodies[0].append(...page.runs.map(row));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    document.getElementById('no-runs').hidden = table.tBodies[0].rows.length > 0;
    table.hidden = table.tBodies[0].rows.length === 0;
  } catch (err) {
    error.textContent = `Could not list the runs: ${err.message}`;
    error.hidden = false;
  } finally {
    more.disabled = false;
  }
}

initChrome();
more.addEventListener('click', load);
load();
