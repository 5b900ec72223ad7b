/**
 * Recurring visitors: the unknown faces the detection log told apart, the most visits first (#visitors),
 * and one visitor (#visitor/<id>): its best crops, visits, first and last seen, cameras and the
 * timeline of its sightings; Enrol as… (a new person, or samples of someone enrolled, from its best
 * crops), Merge another visitor into it, Split sightings off, and Forget it with every trace.
 */
import { get, json, url } from './api';
import { confirmErase } from './confirm';
import { enrolAsFields } from './enrol-as';
import { h, message, nextId, plural, replace, when } from './dom';
import { errorText, type View, type ViewContext } from './view';
import type {
  DetectionEvent,
  PersonSummary,
  VisitorChangeAnswer,
  VisitorDetail,
  VisitorEnrolAnswer,
  VisitorForgetAnswer,
  VisitorsAnswer,
  VisitorSummary,
} from './types';

const REFRESH_MS = 10000;

function visitorHash(id: string): string {
  return `#visitor/${encodeURIComponent(id)}`;
}

/** A visitor's best crops (at most `n`; a grey square for one without any). */
function crops(v: VisitorSummary, ctx: ViewContext, n: number, className: string): HTMLElement[] {
  const shown = v.best.slice(0, n);
  if (!shown.length) return [h('span', { class: `${className} none`, 'aria-hidden': 'true' }, '?')];
  return shown.map((e, i) =>
    ctx.images.img(
      url(`events/${encodeURIComponent(e)}/crop`, { store: undefined }),
      `Face of ${v.id}${shown.length > 1 ? ` (${i + 1} of ${shown.length})` : ''}`,
      className,
    ),
  );
}

function seenText(v: VisitorSummary): string {
  return `${plural(v.visits, 'visit')} · last seen ${when(v.lastSeen)}`;
}

function visitorCard(v: VisitorSummary, ctx: ViewContext): HTMLElement {
  return h(
    'li',
    { class: `card visitor${v.visits > 1 ? ' recurring' : ''}`, 'data-id': v.id },
    h(
      'a',
      { href: visitorHash(v.id), class: 'card-link' },
      h('span', { class: 'visitor-crops' }, ...crops(v, ctx, 3, 'thumb')),
      h('span', { class: 'name' }, v.id),
    ),
    h('span', { class: 'visits' }, seenText(v)),
    h('span', { class: 'muted small' }, `first seen ${when(v.firstSeen)}`),
    h('span', { class: 'muted small cameras' }, v.cameras.join(', ')),
  );
}

export const visitorsView: View = async (root, ctx) => {
  const count = h('p', { class: 'muted', 'aria-live': 'polite', id: 'visitors-count' });
  const grid = h('ul', { class: 'grid', id: 'visitors-grid', 'aria-labelledby': 'visitors-title' });
  const status = h('div');
  replace(
    root,
    h('div', { class: 'view-head' }, h('h2', { id: 'visitors-title' }, 'Visitors')),
    h(
      'p',
      { class: 'muted' },
      'Unknown faces told apart: a stranger who comes back keeps one visitor id. Recurring visitors first. ' +
        'Visitors are kept as long as unknown faces are (detection-log’s retention).',
    ),
    count,
    status,
    grid,
  );
  let shown = '';
  const load = async (): Promise<void> => {
    try {
      const a = await get<VisitorsAnswer>('visitors', 'see visitors');
      // Drawn again only when something changed: each drawing fetches the crops anew.
      const key = JSON.stringify(a);
      if (key === shown) return;
      shown = key;
      replace(status);
      replace(grid, ...a.visitors.map((v) => visitorCard(v, ctx)));
      const recurring = a.visitors.filter((v) => v.visits > 1).length;
      count.textContent = `${plural(a.total, 'visitor')}, ${recurring} recurring${
        a.total > a.visitors.length ? ` (the first ${a.visitors.length} shown)` : ''
      }.`;
      if (!a.total)
        replace(
          status,
          h(
            'p',
            {},
            a.tracked
              ? 'No visitor yet.'
              : 'No visitors are kept for this store: a detection-log with Visitors on gives unknown faces their visitor ids.',
          ),
        );
    } catch (err) {
      replace(status, message('error', errorText(err)));
    }
  };
  await load();
  ctx.every(REFRESH_MS, load);
};

/** One sighting in the timeline, with a check box to split it off. */
function sighting(e: DetectionEvent, ctx: ViewContext): HTMLElement {
  const box = h('input', { type: 'checkbox', class: 'split-pick', value: e.id, 'data-write': true });
  box.id = nextId('sighting');
  return h(
    'li',
    { class: 'sighting', 'data-id': e.id },
    box,
    h(
      'label',
      { for: box.id },
      e.crop
        ? ctx.images.img(
            url(`events/${encodeURIComponent(e.id)}/crop`, { store: undefined }),
            `Face at ${when(e.time)}`,
            'crop',
          )
        : null,
      h('span', { class: 'small' }, `${e.camera} · `, h('time', { datetime: e.time }, when(e.time))),
    ),
  );
}

export const visitorView: View = async (root, ctx, arg) => {
  const id = decodeURIComponent(arg);
  const base = `visitors/${encodeURIComponent(id)}`;
  replace(root, h('p', { class: 'muted' }, 'Loading…'));
  let v: VisitorDetail;
  try {
    v = await get<VisitorDetail>(base, 'see visitors');
  } catch (err) {
    replace(
      root,
      h('a', { href: '#visitors', class: 'back' }, '← Visitors'),
      message('error', errorText(err)),
    );
    return;
  }
  const reload = (): void => void visitorView(root, ctx, arg);

  // Enrol as…
  const fields = enrolAsFields('visitor-enrol', 'Enrol this visitor as', 'new samples of');
  const enrolOut = h('div', { 'aria-live': 'polite' });
  const enrolButton = h('button', { type: 'submit', class: 'primary', id: 'visitor-enrol' }, 'Enrol');
  const enrolForm = h(
    'form',
    { class: 'panel', 'aria-labelledby': 'venrol-title', 'data-write': true },
    h('h3', { id: 'venrol-title' }, 'Enrol as…'),
    h(
      'p',
      { class: 'muted small' },
      `Enrols up to 5 of this visitor’s best face crops, with the checks of any enrolment; its past detections become the person’s.`,
    ),
    fields.fieldset,
    enrolOut,
    enrolButton,
  );
  fields.setPeople([]);
  get<PersonSummary[]>('faces', 'see enrolled people').then(
    (people) => fields.setPeople(people),
    () => undefined,
  );
  enrolForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = fields.body();
    if (!body) {
      replace(enrolOut, message('error', 'Give the person a name.'));
      fields.name.focus();
      return;
    }
    enrolButton.disabled = true;
    replace(enrolOut, message('info', 'Enrolling…'));
    json<VisitorEnrolAnswer>(url(`${base}/enrol`), { method: 'POST', body, action: 'enrol people' }).then(
      (a) => {
        const refused = a.refused.length
          ? `; ${plural(a.refused.length, 'picture')} refused by the checks`
          : '';
        ctx.notice(
          `${v.id} was enrolled as ${a.person.name} (${plural(a.enrolled.length, 'sample')}${refused}); ` +
            `${plural(a.relabelled, 'past detection')} relabelled.`,
        );
        location.hash = `#person/${encodeURIComponent(a.person.id)}`;
      },
      (err) => {
        enrolButton.disabled = false;
        replace(enrolOut, message('error', errorText(err)));
      },
    );
  });

  // Timeline, newest first, and Split.
  const timeline = h(
    'ol',
    { class: 'timeline', id: 'visitor-timeline', reversed: true },
    ...[...v.events].reverse().map((e) => sighting(e, ctx)),
  );
  const splitOut = h('div', { 'aria-live': 'polite' });
  const split = h(
    'button',
    { type: 'button', id: 'split-visitor', 'data-write': true },
    'Split the checked sightings off as a new visitor',
  );
  split.addEventListener('click', () => {
    const events = [...timeline.querySelectorAll<HTMLInputElement>('input.split-pick:checked')].map(
      (b) => b.value,
    );
    if (!events.length) {
      replace(splitOut, message('error', 'Check the sightings that are someone else.'));
      return;
    }
    split.disabled = true;
    json<VisitorChangeAnswer>(url(`${base}/split`), {
      method: 'POST',
      body: { events },
      action: 'change visitors',
    }).then(
      (a) => {
        const to = a.visitors[1];
        ctx.notice(`${plural(events.length, 'sighting')} of ${v.id} became ${to?.id ?? 'a new visitor'}.`);
        reload();
      },
      (err) => {
        split.disabled = false;
        replace(splitOut, message('error', errorText(err)));
      },
    );
  });

  // Merge.
  const others = h('select', { id: 'merge-from' });
  const mergeOut = h('div', { 'aria-live': 'polite' });
  const merge = h('button', { type: 'submit', id: 'merge-visitor' }, 'Merge into this visitor');
  const mergeForm = h(
    'form',
    { class: 'panel', 'aria-labelledby': 'vmerge-title', 'data-write': true },
    h('h3', { id: 'vmerge-title' }, 'Merge'),
    h('p', { class: 'muted small' }, 'Another visitor who is the same person: its sightings join this one.'),
    h('div', { class: 'field' }, h('label', { for: others.id }, 'Visitor'), others),
    mergeOut,
    merge,
  );
  get<VisitorsAnswer>('visitors', 'see visitors', { limit: 1000 }).then(
    (a) => {
      const rest = a.visitors.filter((o) => o.id !== v.id);
      replace(others, ...rest.map((o) => h('option', { value: o.id }, `${o.id} (${seenText(o)})`)));
      merge.disabled = !rest.length;
    },
    () => {
      merge.disabled = true;
    },
  );
  mergeForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const from = others.value;
    if (!from) return;
    merge.disabled = true;
    json<VisitorChangeAnswer>(url(`${base}/merge`), {
      method: 'POST',
      body: { from },
      action: 'change visitors',
    }).then(
      () => {
        ctx.notice(`${from} was merged into ${v.id}.`);
        reload();
      },
      (err) => {
        merge.disabled = false;
        replace(mergeOut, message('error', errorText(err)));
      },
    );
  });

  // Forget.
  const forget = h(
    'button',
    { type: 'button', class: 'danger', id: 'forget-visitor', 'data-write': true },
    `Forget ${v.id}…`,
  );
  forget.addEventListener('click', () => confirmForget(v, ctx));

  replace(
    root,
    h('a', { href: '#visitors', class: 'back' }, '← Visitors'),
    h(
      'div',
      { class: 'view-head' },
      h(
        'div',
        {},
        h('h2', { id: 'visitor-title' }, v.id),
        h(
          'p',
          { class: 'muted', id: 'visitor-facts' },
          `${seenText(v)} · first seen ${when(v.firstSeen)} · ${v.cameras.join(', ')}`,
        ),
      ),
    ),
    h('div', { class: 'visitor-best', id: 'visitor-best' }, ...crops(v, ctx, 5, 'crop')),
    h('div', { class: 'columns' }, enrolForm, mergeForm),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'vtimeline-title' },
      h('h3', { id: 'vtimeline-title' }, `Sightings (${v.events.length})`),
      v.events.length ? timeline : h('p', { class: 'muted' }, 'No detection of this visitor is kept.'),
      splitOut,
      v.events.length > 1 ? split : null,
    ),
    h(
      'section',
      { class: 'panel danger-zone', 'aria-labelledby': 'vforget-title' },
      h('h3', { id: 'vforget-title' }, 'Forget'),
      h(
        'p',
        {},
        'Forgetting a visitor erases its face descriptors, detections and their pictures, for good.',
      ),
      forget,
    ),
  );
};

function confirmForget(v: VisitorDetail, ctx: ViewContext): void {
  confirmErase({
    title: `Forget ${v.id}?`,
    text:
      `Every trace of ${v.id} is erased for good: its face descriptors, ${plural(v.events.length, 'detection')} ` +
      'and their snapshots and crops. This cannot be undone.',
    buttonId: 'confirm-forget',
    erase: async () => {
      const a = await json<VisitorForgetAnswer>(url(`visitors/${encodeURIComponent(v.id)}`), {
        method: 'DELETE',
        action: 'forget visitors',
      });
      ctx.notice(`${v.id} was forgotten and its data erased (${plural(a.events, 'detection')}).`);
      location.hash = '#visitors';
    },
  });
}
