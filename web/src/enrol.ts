/**
 * Enrol: a name, an optional id and metadata, and one or more photos. The first photo that passes
 * face-register's checks creates the person; the others become their samples. Each photo's result
 * (or the API's validation message) is shown beside it.
 */
import { ApiError, json, url } from './api';
import { h, message, plural, replace, sampleCount } from './dom';
import { metadataEditor } from './metadata';
import { megabytes, photoPicker, photoProblem } from './upload';
import { errorText, type View } from './view';
import type { PersonSummary } from './types';

interface Chosen {
  file: File;
  row: HTMLLIElement;
  out: HTMLElement;
}

export const enrolView: View = (root, ctx) => {
  const name = h('input', { id: 'enrol-name', name: 'name', required: true, autocomplete: 'off' });
  const id = h('input', {
    id: 'enrol-id',
    name: 'id',
    autocomplete: 'off',
    'aria-describedby': 'enrol-id-hint',
  });
  const meta = metadataEditor({}, 'Metadata (optional)');
  const list = h('ul', { class: 'files', id: 'enrol-files', 'aria-label': 'Chosen photos' });
  const out = h('div', { id: 'enrol-result', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'enrol-submit' }, 'Enrol');
  let chosen: Chosen[] = [];

  const addFiles = (files: File[]): void => {
    for (const file of files) {
      const outEl = h('span', { class: 'file-result' });
      const remove = h(
        'button',
        { type: 'button', class: 'icon', 'aria-label': `Remove ${file.name}`, title: 'Remove' },
        '×',
      );
      const row = h(
        'li',
        { class: 'file' },
        h('span', { class: 'file-name' }, file.name),
        h('span', { class: 'muted small' }, megabytes(file.size)),
        outEl,
        remove,
      );
      const entry: Chosen = { file, row, out: outEl };
      remove.addEventListener('click', () => {
        chosen = chosen.filter((c) => c !== entry);
        row.remove();
      });
      const problem = photoProblem(file);
      if (problem) replace(outEl, message('error', problem));
      chosen.push(entry);
      list.appendChild(row);
    }
    replace(out);
  };

  const form = h(
    'form',
    {
      'data-write': true,
      class: 'panel enrol',
      id: 'enrol-form',
      'aria-labelledby': 'enrol-title',
      novalidate: true,
    },
    h('div', { class: 'field' }, h('label', { for: 'enrol-name' }, 'Name'), name),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'enrol-id' }, 'Id (optional)'),
      id,
      h(
        'small',
        { class: 'hint', id: 'enrol-id-hint' },
        'Letters, digits, - and _; left empty, the store gives one.',
      ),
    ),
    meta.el,
    photoPicker('Photos', true, addFiles),
    list,
    out,
    h('div', { class: 'actions' }, submit),
  );

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const problem = !name.value.trim()
      ? 'Give the person a name.'
      : (meta.problem() ?? (chosen.length ? null : 'Choose at least one photo.'));
    if (problem) {
      replace(out, message('error', problem));
      (!name.value.trim() ? name : submit).focus();
      return;
    }
    submit.disabled = true;
    replace(out, message('info', 'Enrolling…'));
    void enrol(name.value.trim(), id.value.trim(), meta.value(), chosen, ctx.signal).then(
      ({ person, failed }) => {
        submit.disabled = false;
        if (person) {
          replace(
            out,
            message('ok', `${person.name} is enrolled with ${plural(sampleCount(person), 'sample')}.`),
            h('p', {}, h('a', { href: `#person/${encodeURIComponent(person.id)}` }, `See ${person.name}`)),
          );
          ctx.notice(`Enrolled ${person.name}.`);
          // Keep the photos that failed on the list, with their messages, for another try.
          chosen = chosen.filter((c) => failed.includes(c));
          for (const row of list.querySelectorAll('li')) if (!chosen.some((c) => c.row === row)) row.remove();
          if (!chosen.length) {
            name.value = '';
            id.value = '';
          }
        } else replace(out, message('error', 'Nobody was enrolled: see the message beside each photo.'));
      },
      (err) => {
        submit.disabled = false;
        replace(out, message('error', errorText(err)));
      },
    );
  });

  replace(
    root,
    h('h2', { id: 'enrol-title' }, 'Enrol a person'),
    h(
      'p',
      { class: 'muted' },
      'One face per photo, facing the camera, well lit. Each photo becomes one sample.',
    ),
    h(
      'p',
      { class: 'readonly-note', id: 'enrol-readonly' },
      'You are signed in read only: enrolling needs the facewatch.write permission.',
    ),
    form,
  );
};

async function enrol(
  name: string,
  id: string,
  metadata: Record<string, unknown>,
  files: Chosen[],
  signal: AbortSignal,
): Promise<{ person: PersonSummary | null; failed: Chosen[] }> {
  let person: PersonSummary | null = null;
  const failed: Chosen[] = [];
  for (const c of files) {
    const problem = photoProblem(c.file);
    if (problem) {
      replace(c.out, message('error', problem));
      failed.push(c);
      continue;
    }
    replace(c.out, h('span', { class: 'muted' }, 'uploading…'));
    try {
      if (!person) {
        const query: Record<string, string> = { name };
        if (id) query.id = id;
        if (Object.keys(metadata).length) query.metadata = JSON.stringify(metadata);
        const a = await json<{ person: PersonSummary }>(url('register', query), {
          method: 'POST',
          body: c.file,
          action: 'enrol people',
          signal,
        });
        person = a.person;
        replace(c.out, message('ok', 'enrolled'));
      } else {
        const added: { person?: PersonSummary } = await json<{ person?: PersonSummary }>(
          url(`faces/${encodeURIComponent(person.id)}/samples`),
          {
            method: 'POST',
            body: c.file,
            action: 'add samples',
            signal,
          },
        );
        if (added.person) person = added.person;
        replace(c.out, message('ok', 'added as a sample'));
      }
    } catch (err) {
      failed.push(c);
      replace(c.out, message('error', errorText(err)));
      // An id in use or a missing permission will not change for the next photo.
      if (err instanceof ApiError && [401, 403, 409].includes(err.status)) {
        for (const rest of files.slice(files.indexOf(c) + 1)) {
          failed.push(rest);
          replace(rest.out);
        }
        break;
      }
    }
  }
  return { person, failed };
}
