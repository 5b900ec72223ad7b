/**
 * The "Enrol as…" choice of the detections list and the Visitors view: a new person (a name and an
 * optional id) or new samples of someone enrolled, as one fieldset, and the request body it makes.
 */
import { h } from './dom';
import type { PersonSummary } from './types';

export interface EnrolAsFields {
  fieldset: HTMLFieldSetElement;
  /** The new person's name field (focused when it is missing). */
  name: HTMLInputElement;
  /** Fills the list of people to add samples to (none: that choice is off). */
  setPeople(list: PersonSummary[]): void;
  /** `{name, id?}` for a new person, `{person}` for samples; null when a new person has no name. */
  body(): { name: string; id?: string } | { person: string } | null;
}

/** The fields, their ids `<prefix>-name`, `-id`, `-person`, `-new` and `-sample`. */
export function enrolAsFields(prefix: string, legend: string, sampleLabel: string): EnrolAsFields {
  const asNew = h('input', { type: 'radio', name: prefix, value: 'new', id: `${prefix}-new`, checked: true });
  const asSample = h('input', { type: 'radio', name: prefix, value: 'sample', id: `${prefix}-sample` });
  const name = h('input', { id: `${prefix}-name`, autocomplete: 'off', class: 'enrol-as-name' });
  const pid = h('input', { id: `${prefix}-id`, autocomplete: 'off' });
  const pick = h('select', { id: `${prefix}-person`, class: 'enrol-as-person' });
  const sync = (): void => {
    name.disabled = pid.disabled = !asNew.checked;
    pick.disabled = !asSample.checked;
  };
  asNew.addEventListener('change', sync);
  asSample.addEventListener('change', sync);
  sync();
  const fieldset = h(
    'fieldset',
    {},
    h('legend', {}, legend),
    h('div', { class: 'radio' }, asNew, h('label', { for: asNew.id }, 'a new person')),
    h('div', { class: 'field' }, h('label', { for: name.id }, 'Name'), name),
    h('div', { class: 'field' }, h('label', { for: pid.id }, 'Id (optional)'), pid),
    h('div', { class: 'radio' }, asSample, h('label', { for: asSample.id }, sampleLabel)),
    h('div', { class: 'field' }, h('label', { for: pick.id }, 'Person'), pick),
  );
  return {
    fieldset,
    name,
    setPeople(list) {
      pick.replaceChildren(...list.map((p) => h('option', { value: p.id }, `${p.name} (${p.id})`)));
      asSample.disabled = !list.length;
    },
    body() {
      if (!asNew.checked) return { person: pick.value };
      const n = name.value.trim();
      if (!n) return null;
      return { name: n, ...(pid.value.trim() ? { id: pid.value.trim() } : {}) };
    },
  };
}
