// The new-run form: builds the POST /api/v1/runs body and shows the API's validation
// errors next to the field they name (422 {"field": "variation_configs.1.model"}).

import { api } from './api.js';
import { initChrome } from './chrome.js';
import { el } from './dom.js';

const form = document.getElementById('new-run');
const formError = form.querySelector('[data-role="form-error"]');
const perVariation = document.getElementById('per-variation');
const variationConfigs = document.getElementById('variation-configs');
const settings = document.getElementById('agent-settings');

// The engines the service offers, each with a datalist of its known models (the page's
// <datalist data-engine>): the engine field chooses which list the model field offers.
const ENGINES = [...document.querySelectorAll('datalist[data-engine]')].map((d) => d.dataset.engine);
const DEFAULT_ENGINE = ENGINES[0];

// The agent settings a person can set here (the API's AgentConfig).
const KNOBS = [
  { name: 'engine', label: 'Engine', choices: ['', ...ENGINES] },
  { name: 'model', label: 'Model', placeholder: 'default', list: `models-${DEFAULT_ENGINE}` },
  { name: 'max_turns', label: 'Max turns', placeholder: '30', number: true },
  { name: 'max_budget_usd', label: 'Budget (USD)', placeholder: 'no limit', number: true },
  { name: 'effort', label: 'Effort', choices: ['', 'low', 'medium', 'high', 'xhigh', 'max'] },
  // Empty: the default, shell (file tools plus commands in the sandbox).
  { name: 'tools', label: 'Tools', choices: ['', 'shell', 'files'] },
];

function knobFields(prefix) {
  return KNOBS.map((knob) => {
    const id = `${prefix}.${knob.name}`.replaceAll('.', '-');
    const input = knob.choices
      ? el('select', { id, name: `${prefix}.${knob.name}` },
        ...knob.choices.map((c) => el('option', { value: c, text: c || 'default' })))
      : el('input', {
        id, name: `${prefix}.${knob.name}`, type: 'text', autocomplete: 'off',
        placeholder: knob.placeholder, list: knob.list, inputmode: knob.number ? 'decimal' : null,
        dataset: knob.number ? { number: '1' } : {},
      });
    if (knob.name === 'engine') input.addEventListener('change', offerModels);
    return el('div', { class: 'field', dataset: { field: `${prefix}.${knob.name}` } },
      el('label', { for: id, text: knob.label }), input);
  });
}

// A variation's own prompt (optional): empty, it runs the run's prompt.
function promptField(prefix) {
  const id = `${prefix}.prompt`.replaceAll('.', '-');
  return el('div', { class: 'field wide', dataset: { field: `${prefix}.prompt` } },
    el('label', { for: id, text: 'Prompt (optional)' }),
    el('textarea', { id, name: `${prefix}.prompt`, rows: '3', placeholder: 'Empty: the run\'s prompt' }));
}

// Each model field offers the models of the engine its variation will run: its own
// engine field, else the run's, else the default engine.
function offerModels() {
  const shared = form.elements['agent_config.engine'].value || DEFAULT_ENGINE;
  form.elements['agent_config.model'].setAttribute('list', `models-${shared}`);
  [...variationConfigs.children].forEach((_, i) => {
    const engine = form.elements[`variation_configs.${i}.engine`].value || shared;
    form.elements[`variation_configs.${i}.model`].setAttribute('list', `models-${engine}`);
  });
}

function variationCount() {
  const n = Number(form.elements.variations.value);
  return Number.isInteger(n) && n >= 1 && n <= 5 ? n : 3;
}

// One row of settings per variation, kept as long as what was typed in them.
function layoutVariationConfigs() {
  const wanted = perVariation.checked ? variationCount() : 0;
  const rows = [...variationConfigs.children];
  for (let i = rows.length; i < wanted; i += 1) {
    variationConfigs.append(el('fieldset', { class: 'variation-config', dataset: { field: `variation_configs.${i}` } },
      el('legend', { text: `Variation ${i}` }), ...knobFields(`variation_configs.${i}`),
      promptField(`variation_configs.${i}`)));
  }
  for (let i = wanted; i < rows.length; i += 1) rows[i].remove();
  variationConfigs.hidden = wanted === 0;
  offerModels();
}

// A number when it reads as one; else the text as typed, so the API says what is wrong.
function value(input) {
  const text = input.value.trim();
  if (input.dataset.number && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

function config(prefix) {
  const result = {};
  for (const knob of KNOBS) {
    const text = value(form.elements[`${prefix}.${knob.name}`]);
    if (text !== '') result[knob.name] = text;
  }
  // The prompt as typed (only a blank one is left out: the run's prompt applies).
  const prompt = form.elements[`${prefix}.prompt`];
  if (prompt && prompt.value.trim() !== '') result.prompt = prompt.value;
  return result;
}

// "Iterate on this one" (a finished variation on the run page) opens this form with
// ?from=<run id>&variation=<n>: the new run starts from that variation's change.
const params = new URLSearchParams(window.location.search);
const origin = params.has('from') && /^\d+$/.test(params.get('variation') || '')
  ? { run_id: params.get('from'), variation_id: Number(params.get('variation')) } : null;

// A parent run from a local repository (its `source`): the new run names the same path.
let localPath = null;

async function showOrigin() {
  const note = form.querySelector('[data-role="iterating"]');
  note.hidden = false;
  note.replaceChildren('Iterating on ',
    el('a', { href: `runs/${encodeURIComponent(origin.run_id)}`, text: origin.run_id }),
    `, variation ${origin.variation_id}: every variation starts from its change.`);
  try {
    const parent = await api.getRun(origin.run_id);
    form.elements.github_url.value = parent.github_url;
    form.elements.github_url.readOnly = true;
    localPath = parent.source ? parent.source.path : null;
  } catch (err) {
    showError(err);
  }
}

function body() {
  const repository = localPath ? { repo_path: localPath }
    : { github_url: form.elements.github_url.value.trim() };
  const request = { ...repository, prompt: form.elements.prompt.value };
  if (origin) request.from = origin;
  const variations = form.elements.variations.value.trim();
  if (variations !== '') request.variations = /^\d+$/.test(variations) ? Number(variations) : variations;
  const shared = config('agent_config');
  if (Object.keys(shared).length) request.agent_config = shared;
  if (perVariation.checked) {
    const configs = [...variationConfigs.children].map((_, i) => config(`variation_configs.${i}`));
    if (configs.some((c) => Object.keys(c).length)) request.variation_configs = configs;
  }
  return request;
}

function clearErrors() {
  formError.hidden = true;
  for (const node of form.querySelectorAll('.field-error')) node.remove();
  for (const node of form.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid');
}

// The field the API named, or the nearest enclosing one ("variation_configs.1" for a
// whole item); null when the form has none.
function fieldFor(name) {
  const parts = name.split(/[./]/);
  while (parts.length) {
    const node = form.querySelector(`[data-field="${CSS.escape(parts.join('.'))}"]`);
    if (node) return node;
    parts.pop();
  }
  return null;
}

function showError(err) {
  const field = err.field ? fieldFor(err.field) : null;
  if (!field) {
    formError.textContent = err.message;
    formError.hidden = false;
    formError.scrollIntoView({ block: 'nearest' });
    return;
  }
  // "variations: 6 is greater than the maximum of 5" reads better next to the field
  // without the name in front.
  const message = err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
  const note = el('p', { class: 'field-error', role: 'alert', text: message });
  const control = field.querySelector('input, textarea, select');
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    note.id = `${control.id}-error`;
    control.setAttribute('aria-describedby', note.id);
  }
  if (settings.contains(field)) settings.open = true;
  field.append(note);
  control?.focus();
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  const button = document.getElementById('start-run');
  button.disabled = true;
  button.textContent = 'Starting…';
  try {
    const created = await api.createRun(body());
    window.location.assign(`runs/${encodeURIComponent(created.run_id)}`);
  } catch (err) {
    showError(err);
    button.disabled = false;
    button.textContent = 'Start run';
  }
}

initChrome();
form.querySelector('[data-config="agent_config"]').append(...knobFields('agent_config'));
perVariation.addEventListener('change', layoutVariationConfigs);
form.elements.variations.addEventListener('input', layoutVariationConfigs);
form.addEventListener('submit', submit);
if (origin) showOrigin();
