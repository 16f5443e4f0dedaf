// A variation's `git diff`, shown per file with line numbers, additions and deletions
// coloured. Every line goes in as text.

import { el } from './dom.js';
import { count } from './format.js';

const OPEN_UP_TO = 400;   // lines: bigger files start folded

// Split a unified patch into files: {path, status, binary, lines: [{type, text, old, new}]}.
export function parsePatch(patch) {
  const files = [];
  let file = null;
  let oldLine = 0;
  let newLine = 0;
  for (const line of patch.split('\n')) {
    if (line.startsWith('diff --git ')) {
      const match = / b\/(.*)$/.exec(line);
      file = { path: match ? match[1] : line.slice(11), status: 'modified', additions: 0, deletions: 0, lines: [] };
      files.push(file);
    } else if (!file) {
      continue;
    } else if (line.startsWith('@@')) {
      const match = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line);
      oldLine = match ? Number(match[1]) : 0;
      newLine = match ? Number(match[2]) : 0;
      file.lines.push({ type: 'hunk', text: line });
    } else if (file.lines.length === 0) {
      // The header before the first hunk: what kind of change this is.
      if (line.startsWith('new file')) file.status = 'added';
      else if (line.startsWith('deleted file')) file.status = 'deleted';
      else if (line.startsWith('rename from')) file.status = 'renamed';
      else if (line.startsWith('Binary files')) file.status = 'binary';
      // Its bytes, base85 (a binary file, or text in an encoding other than UTF-8).
      else if (line === 'GIT binary patch') file.binary = true;
    } else if (line.startsWith('+')) {
      file.additions += 1;
      file.lines.push({ type: 'add', text: line.slice(1), new: newLine++ });
    } else if (line.startsWith('-')) {
      file.deletions += 1;
      file.lines.push({ type: 'del', text: line.slice(1), old: oldLine++ });
    } else if (line.startsWith(' ')) {
      file.lines.push({ type: 'ctx', text: line.slice(1), old: oldLine++, new: newLine++ });
    } else if (line.startsWith('\\')) {
      file.lines.push({ type: 'meta', text: line });
    }
  }
  return files;
}

export function renderDiff(diff) {
  const files = parsePatch(diff.patch || '');
  const node = el('div', { class: 'diff' });
  node.append(el('div', { class: 'diff-summary' },
    `${count(files.length)} file${files.length === 1 ? '' : 's'} changed `,
    el('span', { class: 'add', text: `+${count(diff.additions)}` }), ' ',
    el('span', { class: 'del', text: `−${count(diff.deletions)}` })));
  if (files.length === 0) node.append(el('p', { class: 'muted', text: 'No changes.' }));
  for (const file of files) node.append(fileNode(file));
  if (diff.truncated) {
    node.append(el('p', { class: 'muted', text: `The patch was cut at 256 KB (whole: ${count(diff.bytes)} bytes).` }));
  }
  return node;
}

function fileNode(file) {
  const rows = file.lines.map((line) => el('tr', { class: `diff-${line.type}` },
    el('td', { class: 'ln', text: line.old ?? '' }),
    el('td', { class: 'ln', text: line.new ?? '' }),
    el('td', { class: 'code', text: line.text })));
  return el('details', { class: 'diff-file', open: file.lines.length <= OPEN_UP_TO },
    el('summary', {},
      el('span', { class: 'diff-path', text: file.path, title: file.path }),
      file.status === 'modified' ? null : el('span', { class: `diff-status ${file.status}`, text: file.status }),
      file.binary ? el('span', { class: 'diff-status binary', text: 'binary' }) : null,
      el('span', { class: 'add', text: `+${count(file.additions)}` }),
      el('span', { class: 'del', text: `−${count(file.deletions)}` })),
    el('div', { class: 'diff-scroll' }, el('table', { class: 'diff-table' }, el('tbody', {}, ...rows))));
}
