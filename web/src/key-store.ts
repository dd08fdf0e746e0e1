import type { KeyStore } from './api.js';

const STORAGE_KEY = 'cutout.apiKey';

/** The API key in localStorage, so the page asks once per browser, not once per visit. */
export function localKeyStore(): KeyStore {
  return {
    get: () => {
      try {
        return localStorage.getItem(STORAGE_KEY);
      } catch {
        return null; // storage disabled: the key is asked for again after a reload
      }
    },
    set: (key) => {
      try {
        if (key === null) localStorage.removeItem(STORAGE_KEY);
        else localStorage.setItem(STORAGE_KEY, key);
      } catch {
        // storage disabled or full: nothing to keep
      }
    },
  };
}

/** Shows the key dialog (in index.html) and resolves with what was entered, or null on cancel. */
export function dialogKeyPrompt(dialog: HTMLDialogElement): (reason: 'needed' | 'rejected') => Promise<string | null> {
  const input = dialog.querySelector<HTMLInputElement>('input[name=key]')!;
  const note = dialog.querySelector<HTMLElement>('[data-key-note]')!;
  return (reason) =>
    new Promise((resolve) => {
      note.textContent = reason === 'rejected' ? 'That key was not accepted. Enter another one.' : 'This server needs an API key to accept uploads.';
      input.value = '';
      dialog.addEventListener(
        'close',
        () => {
          const key = input.value.trim();
          resolve(dialog.returnValue === 'ok' && key !== '' ? key : null);
        },
        { once: true },
      );
      dialog.showModal();
      input.focus();
    });
}
