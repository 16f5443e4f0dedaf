// A variation's transcript as entries: what the agent printed, turned into what a person
// reads. Deltas grow one block until the complete block replaces it; a tool's result
// joins its call. Entries are plain data; render() gives one its DOM, as text only.

import { el } from './dom.js';
import { clip, cost, count } from './format.js';

export class Entries {
  constructor() {
    this.list = [];
    this.changed = new Set();   // entries whose content grew after they were added
    this.blocks = new Map();    // "kind:message:index" -> block still streaming
    this.tools = new Map();     // tool_use id -> entry waiting for its result
  }

  note(text, kind = 'note') {
    this.list.push({ kind, text });
  }

  // One agent_output event's data: {variation_id, type, content, pod}.
  output({ type, content }) {
    switch (type) {
      case 'log': return this.note(String(content), 'log');
      case 'thinking_delta': case 'text_delta': return this.delta(type.slice(0, -6), content);
      case 'thinking': case 'text': return this.block(type, content);
      case 'tool_use': return this.toolUse(content);
      case 'tool_result': return this.toolResult(content);
      case 'status': return this.status(content);
      case 'result': return this.note(describeResult(content));
      case 'diff': return this.note(`Changed ${count((content.files || []).length)} file(s): `
        + `+${count(content.additions)} −${count(content.deletions)}`);
      case 'error': return this.note(`${content.code || 'error'}: ${content.message || ''}`, 'error');
      case 'check_started': return this.note(`${checkLabel(content)} started: ${content.command || ''}`, 'check');
      case 'check_output': return this.checkOutput(content);
      case 'check_finished': return this.note(describeCheck(content), content.passed ? 'check passed' : 'check failed');
      default: return this.note(`${type}: ${JSON.stringify(content)}`, 'log');
    }
  }

  delta(kind, c) {
    const key = `${kind}:${c.message_id}:${c.index}`;
    const piece = typeof c[kind] === 'string' ? c[kind] : '';
    const entry = this.blocks.get(key);
    if (entry) {
      entry.text += piece;
      this.changed.add(entry);
    } else {
      const block = { kind, text: piece, streaming: true };
      this.blocks.set(key, block);
      this.list.push(block);
    }
  }

  block(kind, c) {
    const key = `${kind}:${c.message_id}:${c.index}`;
    const text = String(c[kind] ?? c.text ?? '');
    const entry = this.blocks.get(key);
    if (entry) {
      this.blocks.delete(key);
      entry.text = text;
      entry.streaming = false;
      this.changed.add(entry);
    } else {
      this.list.push({ kind, text });
    }
  }

  toolUse(c) {
    const entry = { kind: 'tool', name: String(c.name || 'tool'), input: c.input, summary: summarize(c.input) };
    if (c.id) this.tools.set(c.id, entry);
    this.list.push(entry);
  }

  toolResult(c) {
    const entry = this.tools.get(c.tool_use_id);
    const result = { text: String(c.content ?? ''), isError: Boolean(c.is_error), truncated: Boolean(c.truncated) };
    if (entry) {
      this.tools.delete(c.tool_use_id);
      entry.result = result;
      this.changed.add(entry);
    } else {
      this.list.push({ kind: 'tool', name: String(c.name || 'tool'), summary: 'result', result });
    }
  }

  // A batch of a check's output lines: one entry per batch (a check may print thousands).
  checkOutput(c) {
    const lines = Array.isArray(c.lines) ? c.lines.map(String) : [];
    let text = lines.join('\n');
    if (c.truncated) text += `${text ? '\n' : ''}[the rest of ${checkLabel(c)}'s output is not kept]`;
    if (text) this.list.push({ kind: 'log check-output', text });
  }

  status(c) {
    this.note(describeStatus(c));
    for (const [knob, why] of Object.entries(c.settings?.not_applied || {})) {
      this.note(`${knob} not applied: ${why.reason || ''}`);
    }
  }
}

function checkLabel(c) {
  return `${c.baseline ? 'Baseline check' : 'Check'} "${c.name || '?'}"`;
}

function describeCheck(c) {
  const verdict = c.timed_out ? 'timed out' : c.passed ? 'passed' : `failed (exit ${c.exit_code})`;
  const parts = [`${checkLabel(c)} ${verdict}`];
  if (c.problem && c.problem.summary) parts.push(String(c.problem.summary));
  if (c.tests) parts.push(`${count(c.tests.passed)} tests passed, ${count(c.tests.failed)} failed`);
  if (c.duration_ms !== undefined) parts.push(`${(c.duration_ms / 1000).toFixed(1)} s`);
  if (c.truncated) parts.push(`${count(c.lines)} lines printed (output capped)`);
  return parts.join(' · ');
}

function summarize(input) {
  if (!input || typeof input !== 'object') return '';
  const value = input.file_path ?? input.path ?? input.pattern ?? input.command
    ?? Object.values(input).find((v) => typeof v === 'string');
  return value === undefined ? '' : clip(String(value), 160);
}

function describeStatus(c) {
  switch (c.phase) {
    case 'starting': {
      const model = c.settings?.applied?.model || c.model;
      return model ? `Starting with ${model}` : 'Starting';
    }
    case 'cloning': return c.progress || `Cloning ${c.repo_url || ''}`;
    case 'cloned': return `Cloned at ${String(c.commit || '').slice(0, 10)}`;
    case 'running': return `Claude Code is running${c.model ? ` (${c.model})` : ''}`;
    case 'retrying': return `A model call failed (${c.error_status || '?'} ${c.reason || ''}); `
      + `retry ${c.attempt} of ${c.max_retries} in ${((c.delay_ms || 0) / 1000).toFixed(1)} s`;
    case 'finished': return `Finished: ${count(c.files_changed)} file(s) changed`;
    default: return `Status: ${c.phase || JSON.stringify(c)}`;
  }
}

function describeResult(c) {
  const parts = [`Agent loop ended: ${c.subtype || 'done'}`];
  if (c.num_turns !== undefined) parts.push(`${count(c.num_turns)} turns`);
  if (c.total_cost_usd !== undefined) parts.push(cost(c.total_cost_usd));
  return parts.join(' · ');
}

// -- DOM -------------------------------------------------------------------------------
// Few elements per entry: a page keeps hundreds of them per column, and each one laid out
// costs. Labels ("Thinking", "Says") are the stylesheet's; a tool's details are built when
// first opened.

export function render(entry) {
  let node;
  if (entry.kind === 'tool') {
    node = el('li', { class: 'entry tool' }, el('button', {
      type: 'button', class: 'tool-line', 'aria-expanded': 'false',
      onclick: (event) => toggleTool(event.currentTarget, entry),
    },
    el('span', { class: 'tool-name', text: entry.name }),
    el('span', { class: 'tool-arg', text: entry.summary }),
    el('span', { class: 'tool-state' })));
  } else {
    node = el('li', { class: `entry ${entry.kind}` });
  }
  entry.node = node;
  update(entry);
  return node;
}

export function update(entry) {
  const node = entry.node;
  if (entry.kind === 'tool') {
    const state = node.firstChild.lastChild;
    const result = entry.result;
    state.textContent = !result ? '…' : result.isError ? 'failed' : 'done';
    state.className = `tool-state ${!result ? 'pending' : result.isError ? 'failed' : 'ok'}`;
    if (node.childElementCount > 1) fillTool(node, entry);
  } else {
    node.textContent = entry.text;
    if (entry.kind === 'thinking' || entry.kind === 'text') {
      node.classList.toggle('streaming', Boolean(entry.streaming));
    }
  }
}

function toggleTool(button, entry) {
  const open = button.getAttribute('aria-expanded') !== 'true';
  button.setAttribute('aria-expanded', String(open));
  if (open) fillTool(button.parentElement, entry);
  else button.nextElementSibling?.remove();
}

function fillTool(node, entry) {
  node.querySelector('.tool-detail')?.remove();
  const detail = el('div', { class: 'tool-detail' });
  if (entry.input !== undefined) {
    detail.append(el('div', { class: 'tool-part', text: 'Input' }),
      el('pre', { class: 'tool-input', text: JSON.stringify(entry.input, null, 2) }));
  }
  if (entry.result) {
    detail.append(el('div', { class: 'tool-part', text: entry.result.isError ? 'Error' : 'Result' }),
      el('pre', { class: `tool-output${entry.result.isError ? ' failed' : ''}`, text: entry.result.text }));
    if (entry.result.truncated) detail.append(el('div', { class: 'tool-part', text: '(cut to 4 KB by the agent)' }));
  }
  node.append(detail);
}
