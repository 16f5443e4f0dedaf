// What a person can do with a finished variation's change: download it as a patch
// (`git am`-able) and open a pull request on GitHub, which shows as a link once made.
// Connecting GitHub (storing a token for the service's own use) is asked for here, the
// first time a pull request needs it.

import { api } from './api.js';
import { el } from './dom.js';

export class ChangeActions {
  constructor(runId, index, onGitHub = true) {
    this.runId = runId;
    this.onGitHub = onGitHub;
    this.index = index;
    this.download = el('button', {
      type: 'button', class: 'button secondary download-patch', hidden: true,
      onclick: () => this.downloadPatch(),
    }, 'Download patch');
    this.pull = el('button', {
      type: 'button', class: 'button secondary pull-request', hidden: true,
      onclick: () => this.openPullRequest(),
    }, 'Open pull request');
    // A new run whose variations all start from this one's change (the new-run form,
    // prefilled; the run page is runs/<id>, the form the app's root).
    this.iterate = el('a', {
      class: 'button secondary iterate', hidden: true,
      href: `../?from=${encodeURIComponent(runId)}&variation=${index}`,
    }, 'Iterate on this one');
    this.link = el('a', { class: 'pr-link', hidden: true, rel: 'noopener noreferrer', target: '_blank' });
    this.message = el('p', { class: 'change-message', role: 'alert', hidden: true });
    this.tokenInput = el('input', {
      type: 'password', name: 'github-token', autocomplete: 'off', required: true,
      placeholder: 'github_pat_…', 'aria-label': 'GitHub token',
    });
    this.connect = el('form', {
      class: 'connect-github', hidden: true,
      onsubmit: (event) => { event.preventDefault(); this.connectGitHub(); },
    }, el('label', { text: 'Connect GitHub: a token that can push to this repository' }),
    this.tokenInput, el('button', { type: 'submit', class: 'button primary' }, 'Connect'));
    this.node = el('div', { class: 'change-actions' }, this.download, this.pull, this.iterate, this.link,
      this.message, this.connect);
  }

  // What the API says about the variation (GET /runs/<id>).
  apply(variation, ended) {
    this.download.hidden = !(ended && variation.patch_url);
    this.pull.hidden = !(ended && variation.patch_url && this.onGitHub)
      || Boolean(variation.pull_request);
    this.iterate.hidden = !(ended && variation.patch_url);
    if (variation.pull_request) this.showPullRequest(variation.pull_request);
  }

  say(text) {
    this.message.textContent = text || '';
    this.message.hidden = !text;
  }

  showPullRequest(pr) {
    // Only an http(s) URL becomes a link (it is GitHub's answer, relayed by the service).
    if (/^https?:\/\//.test(pr.url)) this.link.href = pr.url;
    this.link.textContent = `Pull request #${pr.number}`;
    this.link.hidden = false;
    this.pull.hidden = true;
    this.connect.hidden = true;
  }

  async downloadPatch() {
    this.say('');
    try {
      const text = await api.getPatch(this.runId, this.index);
      const url = URL.createObjectURL(new Blob([text], { type: 'text/x-patch' }));
      const a = el('a', { href: url, download: `${this.runId}-${this.index}.patch`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      this.say(`Could not download the patch: ${err.message}`);
    }
  }

  async openPullRequest() {
    this.say('');
    this.pull.disabled = true;
    this.pull.textContent = 'Opening pull request…';
    try {
      this.showPullRequest(await api.pullRequest(this.runId, this.index));
    } catch (err) {
      if (err.body?.error === 'github_not_connected' || err.body?.error === 'github_token_rejected') {
        this.connect.hidden = false;
        this.tokenInput.focus();
      }
      this.say(err.message);
    } finally {
      this.pull.disabled = false;
      this.pull.textContent = 'Open pull request';
    }
  }

  async connectGitHub() {
    try {
      const connected = await api.connectGitHub(this.tokenInput.value.trim());
      this.tokenInput.value = '';
      this.connect.hidden = true;
      this.say(`GitHub connected as ${connected.login || 'an unnamed user'}.`);
      await this.openPullRequest();
    } catch (err) {
      this.say(`Could not connect GitHub: ${err.message}`);
    }
  }
}
