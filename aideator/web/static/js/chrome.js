// What every page has: the runtime in the top bar and the token controls.

import { api } from './api.js';
import { initTokenControls } from './auth.js';

export function initChrome() {
  initTokenControls();
  api.health().then((health) => {
    const pill = document.getElementById('runtime-pill');
    pill.textContent = `${health.runtime} runtime`;
    pill.title = `version ${health.version}, ${health.status}`;
    pill.hidden = false;
  }).catch(() => {});
}
