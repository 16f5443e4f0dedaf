// Settings: whether the signed-in principal has connected GitHub (the login GitHub gave
// for the token, never the token), connecting (PUT /github) and disconnecting
// (DELETE /github). The token typed in goes to the API and is cleared from the form.

import { api } from './api.js';
import { initChrome } from './chrome.js';
import { role } from './dom.js';
import { when } from './format.js';

const card = document.getElementById('github-settings');
const state = role(card, 'github-state');
const status = role(card, 'github-status');
const error = role(card, 'github-error');
const form = role(card, 'github-connect');
const input = form.elements['github-token'];
const disconnect = role(card, 'github-disconnect');

function say(text) {
  error.textContent = text || '';
  error.hidden = !text;
}

function show(connection) {
  card.dataset.connected = String(connection.connected);
  state.textContent = connection.connected ? 'connected' : 'not connected';
  state.className = connection.connected ? 'badge status-completed' : 'badge';
  if (connection.connected) {
    const scopes = connection.scopes?.length ? ` (scopes: ${connection.scopes.join(', ')})` : '';
    const since = connection.connected_at ? `, since ${when(connection.connected_at)}` : '';
    status.textContent = `Connected as ${connection.login || 'an unnamed user'}${scopes}${since}.`;
  } else {
    status.textContent = 'Not connected: private repositories and pull requests need a token.';
  }
  form.hidden = connection.connected;
  disconnect.hidden = !connection.connected;
}

async function load() {
  try {
    show(await api.getGitHub());
  } catch (err) {
    say(`Could not read the GitHub connection: ${err.message}`);
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  say('');
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    const value = input.value.trim();
    input.value = '';
    show(await api.connectGitHub(value));
  } catch (err) {
    say(`Could not connect GitHub: ${err.message}`);
  } finally {
    button.disabled = false;
  }
});

disconnect.addEventListener('click', async () => {
  say('');
  disconnect.disabled = true;
  try {
    await api.disconnectGitHub();
    show({ connected: false });
  } catch (err) {
    say(`Could not disconnect GitHub: ${err.message}`);
  } finally {
    disconnect.disabled = false;
  }
});

initChrome();
load();
