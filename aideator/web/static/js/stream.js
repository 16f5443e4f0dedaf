// Following a run's SSE stream. The stream link comes from POST .../stream-token (with
// access control on it carries a short-lived token scoped to this run). The browser's
// EventSource reconnects by itself with Last-Event-ID; once it gives up (the link
// expired, the server went away) a fresh link is asked for and the stream resumes after
// the last event seen, so no event is lost or shown twice.

import { api } from './api.js';

// stream_closed: the stream ended for good (the token was revoked, the run deleted).
const EVENTS = ['status', 'agent_output', 'job_completed', 'error', 'run_finished',
  'stream_closed'];

export function followRun(runId, { onEvent, onConnection }) {
  let source = null;
  let lastId = 0;
  let stopped = false;
  let backoff = 1000;

  async function open() {
    if (stopped) return;
    let url;
    try {
      url = new URL((await api.streamToken(runId)).stream_url, window.location.origin);
    } catch (err) {
      onConnection('offline', err.message);
      retryLater();
      return;
    }
    if (lastId) url.searchParams.set('last_event_id', String(lastId));
    source = new EventSource(url);
    source.onopen = () => { backoff = 1000; onConnection('live'); };
    for (const name of EVENTS) source.addEventListener(name, receive);
    // "error" is also an event name of the stream: only a plain Event is the connection's.
    source.addEventListener('error', (ev) => {
      if (ev instanceof MessageEvent || stopped) return;
      if (source.readyState === EventSource.CLOSED) {
        onConnection('offline');
        retryLater();
      } else {
        onConnection('reconnecting');
      }
    });
  }

  function retryLater() {
    source?.close();
    source = null;
    setTimeout(open, backoff);
    backoff = Math.min(backoff * 2, 15000);
  }

  function receive(ev) {
    if (!(ev instanceof MessageEvent)) return;
    const id = Number(ev.lastEventId) || 0;
    if (id && id <= lastId) return;
    if (id) lastId = id;
    onEvent(ev.type, JSON.parse(ev.data), id);
    if (ev.type === 'run_finished' || ev.type === 'stream_closed') stop();
  }

  function stop() {
    stopped = true;
    source?.close();
    onConnection('closed');
  }

  open();
  return { stop };
}
