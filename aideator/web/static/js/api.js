// The public API (REST under /api/v1), as a frontend uses it. Every call sends the
// session's token when there is one; a 401 asks the person for a token and retries.

import { askForToken, token } from './auth.js';

const BASE = document.querySelector('meta[name="api-base"]')?.content || '/api/v1';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || `the service answered ${status}`);
    this.status = status;
    this.body = body;
    this.field = body?.field || null;
  }
}

async function call(method, path, body, as = 'json') {
  let rejected = false;
  for (;;) {
    const headers = { Accept: 'application/json' };
    const current = token();
    if (current) headers.Authorization = `Bearer ${current}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(BASE + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, { error: 'network', detail: `the service did not answer (${err.message})` });
    }
    if (response.status === 401) {
      // Ask, then try again with what the person typed; say so when a token failed.
      await askForToken(current || rejected ? 'That token was not accepted.' : null);
      rejected = true;
      continue;
    }
    if (response.ok && as === 'text') return response.text();
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }
}

const run = (id) => `/runs/${encodeURIComponent(id)}`;

export const api = {
  health: () => fetch(`${BASE}/health`).then((r) => r.json()),
  createRun: (body) => call('POST', '/runs', body),
  listRuns: (cursor) => call('GET', `/runs?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
  getRun: (id) => call('GET', run(id)),
  getComparison: (id) => call('GET', `${run(id)}/comparison`),
  getDiff: (id, variation) => call('GET', `${run(id)}/variations/${variation}/diff`),
  select: (id, variation) => call('POST', `${run(id)}/select`, { winning_variation_id: variation }),
  cancel: (id) => call('POST', `${run(id)}/cancel`),
  streamToken: (id) => call('POST', `${run(id)}/stream-token`),
  getPatch: (id, variation) => call('GET', `${run(id)}/variations/${variation}/patch`, undefined, 'text'),
  pullRequest: (id, variation) => call('POST', `${run(id)}/variations/${variation}/pull-request`),
  getGitHub: () => call('GET', '/github'),
  connectGitHub: (githubToken) => call('PUT', '/github', { token: githubToken }),
  disconnectGitHub: () => call('DELETE', '/github'),
};
