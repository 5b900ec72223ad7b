/** People: the grid of enrolled people with search, and one person's page (samples, events, edits). */
import { ApiError, call, get, json, url } from './api';
import { readOnly } from './auth';
import { confirmErase } from './confirm';
import { h, message, metaText, replace, when } from './dom';
import { eventItem } from './detections';
import { metadataEditor } from './metadata';
import { photoPicker, photoProblem } from './upload';
import { errorText, type View, type ViewContext } from './view';
import type { PersonSummary, PersonWithEvents } from './types';

const personHash = (id: string): string => `#person/${encodeURIComponent(id)}`;

export const peopleView: View = (root, ctx) => {
  const search = h('input', {
    type: 'search',
    id: 'people-search',
    autocomplete: 'off',
    placeholder: 'Name, id or metadata',
  });
  const count = h('p', { class: 'muted', 'aria-live': 'polite', id: 'people-count' });
  const grid = h('ul', { class: 'grid', id: 'people-grid', 'aria-labelledby': 'people-title' });
  const status = h('div');
  replace(
    root,
    h(
      'div',
      { class: 'view-head' },
      h('h2', { id: 'people-title' }, 'People'),
      h('a', { href: '#enrol', class: 'button primary', 'data-write': true }, 'Enrol someone'),
    ),
    h(
      'form',
      { class: 'searchbar', role: 'search', onsubmit: (ev: Event) => ev.preventDefault() },
      h('label', { for: 'people-search' }, 'Search people'),
      search,
    ),
    count,
    status,
    grid,
  );
  let timer = 0;
  let generation = 0;
  const load = async (): Promise<void> => {
    const mine = ++generation;
    try {
      const people = await get<PersonSummary[]>('faces', 'see enrolled people', {
        q: search.value.trim() || undefined,
      });
      if (mine !== generation) return;
      replace(status);
      replace(grid, ...people.map((p) => personCard(p, ctx)));
      count.textContent = search.value.trim()
        ? `${people.length} ${people.length === 1 ? 'person matches' : 'people match'} “${search.value.trim()}”.`
        : `${people.length} ${people.length === 1 ? 'person' : 'people'} enrolled.`;
      if (!people.length && !search.value.trim())
        replace(
          status,
          h(
            'p',
            {},
            'Nobody is enrolled yet.',
            h(
              'span',
              { 'data-write': true },
              ' ',
              h('a', { href: '#enrol' }, 'Enrol someone'),
              ' from a photo.',
            ),
          ),
        );
    } catch (err) {
      if (mine === generation) replace(status, message('error', errorText(err)));
    }
  };
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => void load(), 250);
  });
  ctx.signal.addEventListener('abort', () => clearTimeout(timer));
  return load();
};

function personCard(p: PersonSummary, ctx: ViewContext): HTMLElement {
  const meta = metaText(p.metadata);
  return h(
    'li',
    { class: 'card person', 'data-id': p.id },
    h(
      'a',
      { href: personHash(p.id), class: 'card-link' },
      p.samples > 0
        ? ctx.images.img(url(`faces/${encodeURIComponent(p.id)}/thumbnail`), `Face of ${p.name}`, 'thumb')
        : h('span', { class: 'thumb none', 'aria-hidden': 'true' }, '?'),
      h('span', { class: 'name' }, p.name),
    ),
    h('span', { class: 'id' }, 'id ', h('code', {}, p.id)),
    meta ? h('span', { class: 'meta' }, meta) : null,
    h('span', { class: 'muted small' }, `${p.samples} ${p.samples === 1 ? 'sample' : 'samples'}`),
  );
}

export const personView: View = async (root, ctx, arg) => {
  const id = decodeURIComponent(arg);
  const base = `faces/${encodeURIComponent(id)}`;
  replace(root, h('p', { class: 'muted' }, 'Loading…'));
  let person: PersonWithEvents;
  try {
    person = await get<PersonWithEvents>(base, 'see enrolled people');
  } catch (err) {
    replace(
      root,
      h('a', { href: '#people', class: 'back' }, '← People'),
      message(
        'error',
        err instanceof ApiError && err.status === 404 ? `Nobody with id ${id} is enrolled.` : errorText(err),
      ),
    );
    return;
  }
  const reload = (): void => void personView(root, ctx, arg);

  // Name and metadata.
  const name = h('input', { id: 'person-name', value: person.name, required: true, autocomplete: 'off' });
  const meta = metadataEditor(person.metadata);
  const editOut = h('div', { 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', class: 'primary', 'data-write': true }, 'Save');
  const editForm = h(
    'form',
    { class: 'panel', 'aria-labelledby': 'edit-title' },
    h('h3', { id: 'edit-title' }, 'Name and metadata'),
    h('div', { class: 'field' }, h('label', { for: 'person-name' }, 'Name'), name),
    meta.el,
    editOut,
    h('div', { class: 'actions' }, save),
  );
  editForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const problem = !name.value.trim() ? 'A person needs a name.' : meta.problem();
    if (problem) {
      replace(editOut, message('error', problem));
      return;
    }
    save.disabled = true;
    json<{ person: PersonSummary }>(url(base), {
      method: 'PATCH',
      body: { name: name.value.trim(), metadata: meta.value() },
      action: 'change people',
    }).then(
      (a) => {
        save.disabled = false;
        title.textContent = a.person.name;
        replace(editOut, message('ok', 'Saved.'));
      },
      (err) => {
        save.disabled = false;
        replace(editOut, message('error', errorText(err)));
      },
    );
  });

  // A read-only user sees the name and metadata, not a form to change them.
  if (readOnly()) for (const input of editForm.querySelectorAll('input')) input.readOnly = true;

  // Samples.
  const sampleOut = h('div', { 'aria-live': 'polite' });
  const samples = h(
    'ul',
    { class: 'samples', id: 'samples' },
    ...person.samples.map((s, i) =>
      h(
        'li',
        { class: 'sample', 'data-id': s.id },
        ctx.images.img(
          url(`${base}/samples/${encodeURIComponent(s.id)}/image`),
          `Sample ${i + 1} of ${person.name}`,
          'sample-img',
        ),
        h('span', { class: 'small muted' }, when(s.created)),
        h(
          'button',
          {
            type: 'button',
            class: 'small danger-outline',
            'data-write': true,
            'aria-label': `Delete sample ${i + 1}`,
            onclick: () => {
              if (person.samples.length === 1) {
                replace(
                  sampleOut,
                  message('error', 'This is the only sample: add another first, or delete the person.'),
                );
                return;
              }
              call(url(`${base}/samples/${encodeURIComponent(s.id)}`), {
                method: 'DELETE',
                action: 'delete samples',
              }).then(
                () => {
                  ctx.notice(`Deleted a sample of ${person.name}.`);
                  reload();
                },
                (err) => replace(sampleOut, message('error', errorText(err))),
              );
            },
          },
          'Delete',
        ),
      ),
    ),
  );
  const picker = photoPicker('Add a sample', false, (files) => {
    const file = files[0];
    if (!file) return;
    const problem = photoProblem(file);
    if (problem) {
      replace(sampleOut, message('error', problem));
      return;
    }
    replace(sampleOut, message('info', `Adding ${file.name}…`));
    json(url(`${base}/samples`), {
      method: 'POST',
      body: file,
      action: 'add samples',
      signal: ctx.signal,
    }).then(
      () => {
        ctx.notice(`Added a sample to ${person.name}.`);
        reload();
      },
      (err) => replace(sampleOut, message('error', errorText(err))),
    );
  });

  picker.dataset.write = '';

  // Recent events.
  const events = person.events.length
    ? h('ul', { class: 'events compact' }, ...person.events.map((e) => eventItem(e, ctx, null)))
    : h('p', { class: 'muted' }, 'No detections of this person yet.');

  // Deleting.
  const del = h(
    'button',
    { type: 'button', class: 'danger', id: 'delete-person', 'data-write': true },
    `Delete ${person.name}…`,
  );
  del.addEventListener('click', () => confirmDelete(person, ctx));

  const title = h('h2', { id: 'person-title' }, person.name);
  replace(
    root,
    h('a', { href: '#people', class: 'back' }, '← People'),
    h(
      'div',
      { class: 'view-head' },
      h(
        'div',
        {},
        title,
        h('p', { class: 'muted' }, 'id ', h('code', {}, person.id), ` · enrolled ${when(person.created)}`),
      ),
    ),
    h(
      'div',
      { class: 'columns' },
      editForm,
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'samples-title' },
        h('h3', { id: 'samples-title' }, `Samples (${person.samples.length})`),
        samples,
        picker,
        sampleOut,
      ),
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'pevents-title' },
      h('h3', { id: 'pevents-title' }, 'Recent detections'),
      events,
    ),
    h(
      'section',
      { class: 'panel danger-zone', 'aria-labelledby': 'danger-title' },
      h('h3', { id: 'danger-title' }, 'Delete'),
      h(
        'p',
        {},
        'Deleting a person erases every sample, face crop, detection event and snapshot of them, for good.',
      ),
      del,
    ),
  );
};

/** The confirmation says plainly that the data is erased for good. */
function confirmDelete(person: PersonWithEvents, ctx: ViewContext): void {
  confirmErase({
    title: `Delete ${person.name}?`,
    text: `All data of ${person.name} (id ${person.id}) is erased for good: ${person.samples.length} ${
      person.samples.length === 1 ? 'sample' : 'samples'
    }, face crops, their copies in backups, detection events and their snapshots. This cannot be undone.`,
    buttonId: 'confirm-delete',
    erase: async () => {
      const a = await json<{ events?: number; files?: number }>(
        url(`faces/${encodeURIComponent(person.id)}`),
        {
          method: 'DELETE',
          action: 'delete people',
        },
      );
      ctx.notice(
        `${person.name} was deleted and their data erased${
          typeof a.events === 'number' ? ` (${a.events} events, ${a.files ?? 0} files)` : ''
        }.`,
      );
      location.hash = '#people';
    },
  });
}
