/** The confirmation before erasing for good (a person, a visitor): it says plainly what goes. */
import { h, message, replace } from './dom';
import { errorText } from './view';

export interface EraseConfirmation {
  title: string;
  text: string;
  /** The id of the button that erases (for the tests and keyboard users' bookmarks). */
  buttonId: string;
  /** Erases; the dialog closes when it resolves, and shows the error when it fails. */
  erase(): Promise<void>;
}

/** Shows a modal dialog with Cancel (focused) and "Erase for good". */
export function confirmErase(c: EraseConfirmation): void {
  const out = h('div', { 'aria-live': 'polite' });
  const cancel = h('button', { type: 'button', value: 'cancel' }, 'Cancel');
  const erase = h('button', { type: 'button', class: 'danger', id: c.buttonId }, 'Erase for good');
  const dialog = h(
    'dialog',
    { 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text', class: 'confirm' },
    h('h2', { id: 'confirm-title' }, c.title),
    h('p', { id: 'confirm-text' }, c.text),
    out,
    h('div', { class: 'actions' }, cancel, erase),
  );
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  erase.addEventListener('click', () => {
    erase.disabled = true;
    c.erase().then(
      () => dialog.close(),
      (err) => {
        erase.disabled = false;
        replace(out, message('error', errorText(err)));
      },
    );
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  cancel.focus();
}
