// The comparison board at the top of the run page: one row per variation (and the
// baseline) with the evidence a person chooses by — its checks against the baseline, test
// counts, changes, turns, tokens, metered cost and time — sortable by any column. The
// variation the evidence favours is marked as a suggestion; choosing stays the person's.

import { el } from './dom.js';
import { cost, count, duration } from './format.js';

// [key, heading, value of a row for sorting, cell, shown on a narrow screen's card]
// Headings are short (they wrap) so that every column fits at a desktop width; on a
// phone each row becomes a card with only what decides (the last field true).
const COLUMNS = [
  ['variation', 'Variation', (r) => r.variation_id ?? -1, variationCell, true],
  ['engine', 'Engine', (r) => r.engine || '', (r) => r.engine || '–', false],
  ['model', 'Model', (r) => r.model || '', modelCell, false],
  // The prompt the variation ran, when it is its own (the others ran the run's).
  ['prompt', 'Prompt', (r) => (r.own_prompt ? r.prompt : ''), promptCell, false],
  ['status', 'Outcome', (r) => r.status, (r) => el('span', { class: `badge status-${r.status}`, text: r.status, title: r.error || null }), true],
  ['checks', 'Checks passed', (r) => r.checks_passed - r.checks_failed / 100, checksCell, true],
  ['newly', 'Newly failing', (r) => r.checks_newly_failing, newlyCell, true],
  ['tests', 'Tests', (r) => (r.tests ? r.tests.passed - r.tests.failed - r.tests.errors : null), testsCell, true],
  ['files', 'Files', (r) => r.files_changed, (r) => count(r.files_changed), false],
  ['lines', 'Lines +/−', (r) => (r.additions ?? 0) + (r.deletions ?? 0), linesCell, true],
  ['turns', 'Turns', (r) => r.turns, (r) => count(r.turns), false],
  ['tokens', 'Tokens', (r) => tokens(r), (r) => count(tokens(r)), false],
  ['cost', 'Cost', (r) => r.cost_usd, (r) => cost(r.cost_usd), true],
  ['time', 'Time', (r) => r.duration_seconds, (r) => duration(r.duration_seconds), false],
  ['setup', 'Setup', (r) => r.setup_seconds, (r) => duration(r.setup_seconds), false],
];

const FIRST_DESCENDING = new Set(['checks', 'tests']);

export class Board {
  constructor({ onChoose }) {
    this.onChoose = onChoose;
    this.data = null;
    this.sort = { key: 'variation', descending: false };
    this.summary = el('p', { class: 'board-summary', 'data-role': 'board-summary' });
    this.table = el('table', { class: 'board-table' });
    this.node = el('section', { class: 'board', 'data-role': 'board', 'aria-label': 'Comparison', hidden: true },
      el('div', { class: 'board-head' }, el('h2', { text: 'Comparison' }), this.summary),
      el('div', { class: 'board-scroll' }, this.table));
  }

  update(data) {
    // Unchanged (a refresh after a replayed event): leave the rows the person may be
    // pointing at in place.
    const json = JSON.stringify(data);
    if (json === this.json) return;
    this.json = json;
    this.data = data;
    this.render();
  }

  sortBy(key) {
    // A new column sorts best first: most checks or tests passing, else smallest first.
    this.sort = { key, descending: this.sort.key === key ? !this.sort.descending : FIRST_DESCENDING.has(key) };
    this.render();
  }

  render() {
    const data = this.data;
    if (!data) return;
    this.node.hidden = false;
    const showSetup = data.rows.some((r) => r.setup_seconds !== null && r.setup_seconds !== undefined);
    const columns = COLUMNS.filter(([key]) => key !== 'setup' || showSetup);
    const head = el('tr', {}, ...columns.map(([key, heading]) => {
      const sorted = this.sort.key === key;
      return el('th', { scope: 'col', 'aria-sort': sorted ? (this.sort.descending ? 'descending' : 'ascending') : null },
        el('button', { type: 'button', class: 'sort', dataset: { sort: key }, onclick: () => this.sortBy(key) },
          heading, sorted ? (this.sort.descending ? ' ▾' : ' ▴') : ''));
    }), el('th', { scope: 'col', text: '' }));
    const [, , value] = columns.find(([key]) => key === this.sort.key) || COLUMNS[0];
    const rows = [...data.rows].sort((a, b) => compare(value(a), value(b), this.sort.descending)
      || a.variation_id - b.variation_id);
    const body = el('tbody', {}, ...rows.map((r) => this.row(r, columns, data)));
    const baseline = data.checks.length ? el('tfoot', {}, this.row(data.baseline, columns, data)) : null;
    this.table.replaceChildren(el('thead', {}, head), body, baseline || '');
    this.summary.textContent = summarize(data);
  }

  row(r, columns, data) {
    const isBaseline = r.variation_id === null;
    const suggested = !isBaseline && r.variation_id === data.suggested_variation_id;
    const chosen = !isBaseline && r.variation_id === data.winning_variation_id;
    const classes = ['board-row', isBaseline ? 'baseline' : '', suggested ? 'suggested' : '', chosen ? 'chosen' : ''];
    // data-label names the field on a narrow screen's card; data-card keeps it there.
    const cells = columns.map(([key, heading, , cell, onCard]) => el('td', {
      dataset: { col: key, label: heading, card: onCard ? 'yes' : 'no' },
    }, cell(r, data)));
    let action = '';
    if (!isBaseline && (r.status === 'succeeded' || r.diff_url)) {
      action = el('button', {
        type: 'button', class: 'button primary choose', disabled: chosen,
        onclick: () => this.onChoose(r.variation_id),
      }, chosen ? 'Chosen' : 'Choose this one');
    }
    return el('tr', { class: classes.filter(Boolean).join(' '), dataset: { variation: isBaseline ? 'baseline' : String(r.variation_id) } },
      ...cells, el('td', { class: 'board-action', dataset: { card: 'yes' } }, action));
  }
}

function variationCell(r, data) {
  if (r.variation_id === null) return el('span', { class: 'board-label', text: 'Baseline', title: r.label });
  const parts = [el('a', { href: r.column, class: 'board-label', text: r.label })];
  if (r.diff_url) parts.push(' ', el('a', { href: `${r.column}-diff`, class: 'board-diff', text: 'diff' }));
  if (r.variation_id === data.suggested_variation_id) {
    parts.push(' ', el('span', { class: 'badge suggested', text: 'Suggested', title: data.suggestion_reason || '' }));
  }
  if (r.variation_id === data.winning_variation_id) parts.push(' ', el('span', { class: 'badge winner', text: 'Winner' }));
  return el('span', {}, ...parts);
}

function checksCell(r, data) {
  const total = data.checks.length;
  if (!total) return '–';
  const text = `${r.checks_passed} / ${total}`;
  const title = r.checks.map((c) => `${c.name}: ${c.status}${c.problem ? ` (${c.problem.summary})` : ''}`).join('\n');
  const state = r.checks_pending ? 'pending' : r.checks_failed ? 'failing' : 'passing';
  const shown = el('span', { class: `checks ${state}`, title, text });
  const problems = r.environment_problems || [];
  if (!problems.length) return shown;
  // A command or module missing here and at the baseline: the toolchain, not the change.
  const where = r.variation_id === null ? '' : ' (at the baseline too)';
  return el('span', {}, shown, el('span', {
    class: 'board-env', 'data-role': 'environment',
    text: `Environment problem${where}: ${problems.map((p) => `${p.name}: ${p.summary}`).join('; ')}`,
  }));
}

// A newly failing check's reason, when it is a missing command or module.
function failingName(r, name) {
  const check = r.checks.find((c) => c.name === name);
  return check && check.problem ? `${name}: ${check.problem.summary}` : name;
}

function newlyCell(r) {
  if (r.variation_id === null) return '';
  if (!r.checks_newly_failing) return el('span', { class: 'newly none', text: '0' });
  const names = r.newly_failing.map((name) => failingName(r, name)).join(', ');
  return el('span', { class: 'newly some', title: names, text: `${r.checks_newly_failing} (${names})` });
}

function modelCell(r) {
  if (!r.model) return '–';
  return el('span', { class: 'board-model', text: r.model, title: r.model });
}

function testsCell(r) {
  const t = r.tests;
  if (!t) return '–';
  const parts = [`${count(t.passed)} passed`, `${count(t.failed)} failed`];
  if (t.errors) parts.push(`${count(t.errors)} errors`);
  if (t.skipped) parts.push(`${count(t.skipped)} skipped`);
  // Each count kept whole: a narrow column wraps between them, never inside one.
  const shown = parts.flatMap((part, i) => [i ? ' · ' : '', el('span', { class: 'nowrap', text: part })]);
  return el('span', { class: t.failed || t.errors ? 'tests failing' : 'tests passing', title: t.format }, ...shown);
}

function linesCell(r) {
  if (r.additions === null || r.additions === undefined) return '–';
  return el('span', {}, el('span', { class: 'add', text: `+${count(r.additions)}` }), ' ',
    el('span', { class: 'del', text: `−${count(r.deletions)}` }));
}

function tokens(r) {
  if (r.input_tokens === null || r.input_tokens === undefined) return null;
  return r.input_tokens + (r.output_tokens || 0);
}

function compare(a, b, descending) {
  const missingA = a === null || a === undefined;
  const missingB = b === null || b === undefined;
  if (missingA || missingB) return missingA - missingB;   // unknowns last, either way
  const order = a < b ? -1 : a > b ? 1 : 0;
  return descending ? -order : order;
}

function summarize(data) {
  if (!data.checks.length) return 'No checks were asked for: compare by changes and cost.';
  if (data.suggested_variation_id === null) return 'Waiting for the checks of finished variations.';
  return `Suggested: ${data.suggestion_reason}`;
}

function promptCell(r) {
  if (r.variation_id === null || r.variation_id === undefined) return '–';
  if (!r.own_prompt) return 'the run\'s';
  // Cut to one line; the whole prompt on hover (title) and on focus (CSS).
  return el('span', { class: 'board-prompt', text: r.prompt, title: r.prompt, tabindex: 0 });
}
