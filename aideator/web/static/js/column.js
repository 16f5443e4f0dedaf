// One variation's column on the run page: its status, transcript, failure reason,
// figures when it ends, its diff, and the action to choose it.

import { ChangeActions } from './change-actions.js';
import { renderDiff } from './diff.js';
import { el } from './dom.js';
import { Entries } from './entries.js';
import { cost, count, duration } from './format.js';
import { Transcript } from './transcript.js';

const ENDED = new Set(['succeeded', 'failed', 'cancelled']);

export class Column {
  constructor(variation, { onChoose, runId, runPrompt = null, onGitHub = true }) {
    this.index = variation.variation_id;
    this.status = null;
    const config = describeConfig(variation.config || {});
    // Which agent ran, on which model; and its prompt when it is not the run's.
    const engine = `${variation.config?.engine || 'claude-code'} · ${variation.config?.model || 'default model'}`;
    const ownPrompt = variation.prompt && variation.prompt !== runPrompt ? variation.prompt : null;
    const prompt = el('p', {
      class: 'col-prompt', hidden: !ownPrompt, text: ownPrompt ? `Prompt: ${ownPrompt}` : '',
      title: 'Click to show the whole prompt', dataset: { role: 'prompt' },
    });
    prompt.addEventListener('click', () => prompt.classList.toggle('expanded'));
    this.diffShown = false;
    this.entries = new Entries();
    this.transcript = new Transcript(this.entries);
    this.badge = el('span', { class: 'badge' });
    this.winnerBadge = el('span', { class: 'badge winner', hidden: true, text: 'Winner' });
    this.failure = el('p', { class: 'col-failure', role: 'alert', hidden: true });
    this.stats = el('dl', { class: 'col-stats', hidden: true });
    // What the service's model gateway metered (live, from the stream's usage notices).
    this.metered = el('p', { class: 'col-metered', role: 'status', hidden: true });
    this.changes = el('div', { class: 'col-changes', id: `variation-${this.index}-diff`, hidden: true });
    // The run's checks on this variation's work: name, state, test counts.
    this.checks = el('ul', { class: 'col-checks', 'aria-label': 'Checks', hidden: true });
    this.choose = el('button', {
      type: 'button', class: 'button primary choose', hidden: true,
      onclick: () => onChoose(this.index),
    }, 'Choose this one');
    this.changeActions = new ChangeActions(runId, this.index, onGitHub);
    this.node = el('section', {
      class: 'column', id: `variation-${this.index}`,
      dataset: { variation: String(this.index) }, 'aria-label': `Variation ${this.index}`,
    },
    el('header', { class: 'col-head' },
      el('div', { class: 'col-title' },
        el('h2', { text: `Variation ${this.index}` }), this.badge, this.winnerBadge),
      el('div', { class: 'col-engine', text: engine, dataset: { role: 'engine' } }),
      prompt,
      el('div', { class: 'col-config', text: config, title: config })),
    this.failure,
    this.transcript.node,
    this.stats,
    this.checks,
    this.metered,
    this.changes,
    el('div', { class: 'col-actions' }, this.changeActions.node, this.choose));
    this.chip = el('button', {
      type: 'button', class: 'chip',
      onclick: () => this.node.scrollIntoView({ behavior: 'smooth', inline: 'start', block: 'nearest' }),
    }, el('span', { class: 'dot' }), `Variation ${this.index}`);
    this.setStatus(variation.status);
  }

  get ended() {
    return ENDED.has(this.status);
  }

  setStatus(status) {
    // An ended variation stays ended (a replay of its history passes through "running").
    if (!status || status === this.status || (this.ended && !ENDED.has(status))) return;
    this.status = status;
    this.node.dataset.status = status;
    this.chip.dataset.status = status;
    this.badge.className = `badge status-${status}`;
    this.badge.textContent = status;
    this.updateChoose();
  }

  fail(reason) {
    this.failure.textContent = reason;
    this.failure.hidden = !reason;
  }

  // What the API says about this variation (GET /runs/<id>).
  apply(variation) {
    this.setStatus(variation.status);
    if (variation.status === 'failed' && variation.error) this.fail(variation.error);
    const outcome = variation.outcome || {};
    this.setUsage(variation.usage);
    if (this.ended) {
      const tokens = `${count(outcome.input_tokens)} / ${count(outcome.output_tokens)}`;
      const seconds = variation.duration_seconds
        ?? (outcome.agent_duration_ms === null ? null : outcome.agent_duration_ms / 1000);
      this.stats.replaceChildren(
        ...stat('Turns', count(outcome.turns)), ...stat('Tokens in / out', tokens),
        ...stat('Cost', cost(outcome.cost_usd)), ...stat('Time', duration(seconds)));
      this.stats.hidden = false;
    }
    this.hasDiff = Boolean(outcome.diff_url);
    this.showChecks(variation.checks || []);
    this.changeActions.apply(variation, this.ended);
    this.updateChoose();
  }

  showChecks(checks) {
    this.checks.replaceChildren(...checks.map((c) => el('li', {
      class: `check ${c.status}`, dataset: { check: c.name }, title: c.command,
    }, el('span', { class: 'check-name', text: c.name }),
    el('span', { class: 'check-state', text: checkState(c) }))));
    this.checks.hidden = checks.length === 0;
  }

  // The variation's metered model usage (GET /runs/<id> or a status event's ``usage``).
  setUsage(usage) {
    if (!usage || !usage.calls && !usage.refused_calls) return;
    const tokens = usage.input_tokens + usage.output_tokens
      + usage.cache_creation_input_tokens + usage.cache_read_input_tokens;
    let text = `Metered: ${cost(usage.cost_usd)} · ${count(usage.calls)} model calls · `
      + `${count(tokens)} tokens`;
    if (usage.unpriced_calls) text += ` (${count(usage.unpriced_calls)} unpriced)`;
    if (usage.refused_calls) text += ' · budget spent: calls refused';
    this.metered.textContent = text;
    this.metered.hidden = false;
  }

  showDiff(diff) {
    this.changes.replaceChildren(el('h3', { text: 'Changes' }), renderDiff(diff));
    this.changes.hidden = false;
    this.diffShown = true;
  }

  setWinner(isWinner) {
    this.node.classList.toggle('is-winner', isWinner);
    this.winnerBadge.hidden = !isWinner;
    this.isWinner = isWinner;
    this.updateChoose();
  }

  updateChoose() {
    // A finished variation can win if it succeeded or left changes to look at.
    this.choose.hidden = !(this.status === 'succeeded' || (this.ended && this.hasDiff));
    this.choose.disabled = Boolean(this.isWinner);
    this.choose.textContent = this.isWinner ? 'Chosen' : 'Choose this one';
  }
}

function checkState(c) {
  const words = { passed: 'passed', failed: 'failed', timed_out: 'timed out', pending: 'pending', running: 'running', not_run: 'not run' };
  let text = words[c.status] || c.status;
  if (c.problem) text += ` · ${c.problem.summary}`;
  if (c.tests) text += ` · ${count(c.tests.passed)} passed, ${count(c.tests.failed)} failed`;
  if (c.duration_ms !== null && c.duration_ms !== undefined) text += ` · ${duration(c.duration_ms / 1000)}`;
  return text;
}

function stat(name, value) {
  return [el('div', { class: 'stat' }, el('dt', { text: name }), el('dd', { text: value }))];
}

function describeConfig(config) {
  const parts = [];
  if (config.max_turns) parts.push(`max ${config.max_turns} turns`);
  if (config.effort) parts.push(`effort ${config.effort}`);
  if (config.tools === 'files') parts.push('file tools only');
  if (config.max_budget_usd) parts.push(`budget $${config.max_budget_usd}`);
  if (config.max_thinking_tokens !== undefined) parts.push(`thinking ${config.max_thinking_tokens}`);
  if (config.temperature !== undefined) parts.push(`temperature ${config.temperature}`);
  return parts.join(' · ') || 'default settings';
}
