// The access token: asked for once when the API answers 401, kept for this tab only
// (sessionStorage), sent as "Authorization: Bearer".

const KEY = 'aideator.token';
let pending = null;

export function token() {
  return sessionStorage.getItem(KEY);
}

export function forgetToken() {
  sessionStorage.removeItem(KEY);
  showForget();
}

// Resolves once the person has entered a token; rejects if they cancel. Concurrent
// callers share one dialog.
export function askForToken(message) {
  if (!pending) {
    pending = promptInDialog(message).finally(() => { pending = null; });
  }
  return pending;
}

function promptInDialog(message) {
  const dialog = document.getElementById('token-dialog');
  const form = dialog.querySelector('form');
  const note = dialog.querySelector('[data-role="token-message"]');
  note.textContent = message || '';
  note.hidden = !message;
  form.reset();
  return new Promise((resolve, reject) => {
    dialog.addEventListener('close', () => {
      const value = form.elements.token.value.trim();
      if (dialog.returnValue === 'use' && value) {
        sessionStorage.setItem(KEY, value);
        showForget();
        resolve(value);
      } else {
        reject(new Error('an access token is needed'));
      }
    }, { once: true });
    dialog.showModal();
  });
}

function showForget() {
  const button = document.getElementById('forget-token');
  if (button) button.hidden = !token();
}

export function initTokenControls() {
  const button = document.getElementById('forget-token');
  button?.addEventListener('click', () => forgetToken());
  showForget();
}
