/** A key/value editor for a person's metadata (role, department…). */
import { h, nextId } from './dom';

export interface MetadataEditor {
  el: HTMLElement;
  /** The metadata as entered; values left as they were keep their type (numbers stay numbers). */
  value(): Record<string, unknown>;
  /** A problem to show instead of saving (a repeated key), or null. */
  problem(): string | null;
}

function shown(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function metadataEditor(initial: Record<string, unknown> = {}, legend = 'Metadata'): MetadataEditor {
  const rows = h('div', { class: 'meta-rows' });
  const originals = new Map<string, unknown>(Object.entries(initial));
  const addRow = (key = '', value = ''): void => {
    const kId = nextId('mk');
    const vId = nextId('mv');
    const k = h('input', { id: kId, class: 'meta-key', value: key, autocomplete: 'off' });
    const v = h('input', { id: vId, class: 'meta-value', value, autocomplete: 'off' });
    const row = h(
      'div',
      { class: 'meta-row' },
      h('label', { for: kId, class: 'visually-hidden' }, 'Key'),
      k,
      h('label', { for: vId, class: 'visually-hidden' }, 'Value'),
      v,
    );
    const remove = h(
      'button',
      {
        type: 'button',
        class: 'icon',
        'aria-label': 'Remove this entry',
        title: 'Remove',
        'data-write': true,
      },
      '×',
    );
    remove.addEventListener('click', () => {
      row.remove();
      (rows.querySelector('input') ?? add).focus();
    });
    k.placeholder = 'key (e.g. role)';
    v.placeholder = 'value';
    row.appendChild(remove);
    rows.appendChild(row);
  };
  for (const [k, v] of originals) addRow(k, shown(v));
  const add = h('button', { type: 'button', class: 'small', 'data-write': true }, 'Add an entry');
  add.addEventListener('click', () => {
    addRow();
    const inputs = rows.querySelectorAll<HTMLInputElement>('.meta-key');
    inputs[inputs.length - 1]?.focus();
  });
  const el = h('fieldset', { class: 'meta' }, h('legend', {}, legend), rows, add);
  const entries = (): [string, string][] =>
    [...rows.querySelectorAll('.meta-row')]
      .map((r): [string, string] => [
        (r.querySelector('.meta-key') as HTMLInputElement).value.trim(),
        (r.querySelector('.meta-value') as HTMLInputElement).value,
      ])
      .filter(([k, v]) => k !== '' || v !== '');
  return {
    el,
    value() {
      const out: Record<string, unknown> = {};
      for (const [k, v] of entries()) {
        if (!k) continue;
        out[k] = originals.has(k) && shown(originals.get(k)) === v ? originals.get(k) : v;
      }
      return out;
    },
    problem() {
      const seen = new Set<string>();
      for (const [k] of entries()) {
        if (!k) return 'Every metadata entry needs a key.';
        if (seen.has(k)) return `The metadata key “${k}” is there twice.`;
        seen.add(k);
      }
      return null;
    },
  };
}
