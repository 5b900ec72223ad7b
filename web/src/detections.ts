/**
 * Recent detections: snapshot and crop of each event, filtered by person, camera, known or unknown
 * and date, refreshed by polling `events?after=<newest id>`. An unknown face can be enrolled from
 * here, as a new person or as a sample of someone enrolled.
 */
import { get, json, url } from './api';
import { enrolAsFields } from './enrol-as';
import { h, message, nextId, plural, replace, when } from './dom';
import { errorText, type View, type ViewContext } from './view';
import type { DetectionEvent, EventsAnswer, PersonSummary } from './types';

const POLL_MS = 2000;
/** Fired after "enrol as…" changed the people, so the lists of people are read again. */
const PEOPLE_CHANGED = 'facewatch:people-changed';
const LIMIT = 50;

/** One event as a list item; `people` (for "enrol as…") is null where enrolling is not offered. */
export function eventItem(
  e: DetectionEvent,
  ctx: ViewContext,
  people: (() => PersonSummary[]) | null,
): HTMLLIElement {
  const who = e.person ? e.person.name : 'Unknown';
  const figure = h('div', { class: 'shots' });
  if (e.snapshot)
    figure.appendChild(
      ctx.images.img(
        url(`events/${encodeURIComponent(e.id)}/snapshot`, { store: undefined }),
        `${e.camera} at ${when(e.time)}`,
        'snapshot',
      ),
    );
  if (e.crop)
    figure.appendChild(
      ctx.images.img(
        url(`events/${encodeURIComponent(e.id)}/crop`, { store: undefined }),
        `Face of ${who}`,
        'crop',
      ),
    );
  const item = h(
    'li',
    { class: `event ${e.known ? 'known' : 'unknown'}`, 'data-id': e.id },
    figure,
    h(
      'div',
      { class: 'event-text' },
      h(
        'span',
        { class: 'who' },
        e.person ? h('a', { href: `#person/${encodeURIComponent(e.person.id)}` }, who) : who,
      ),
      h(
        'span',
        { class: `badge ${e.known ? 'badge-known' : 'badge-unknown'}` },
        e.known ? 'known' : 'unknown',
      ),
      // On a store shared by several Node-RED instances, the instance the camera runs on.
      h(
        'span',
        { class: 'small' },
        e.instance ? `${e.camera} on ${e.instance} · ` : `${e.camera} · `,
        h('time', { datetime: e.time }, when(e.time)),
      ),
      h('span', { class: 'small muted figures' }, eventFigures(e)),
    ),
  );
  if (!e.known && people && e.crop) item.appendChild(enrolAs(e, ctx, people));
  return item;
}

/**
 * What the event says of its face: for a named face, face-match's confidence and the distance to the
 * person; for an unknown one, the detector's confidence that it is a face and, where someone was
 * compared, the distance to the nearest person (how far from being named it was).
 */
export function eventFigures(e: DetectionEvent): string {
  const parts: string[] = [];
  if (e.known) parts.push(`confidence ${Math.round(e.confidence * 100)}%`);
  else if (typeof e.score === 'number') parts.push(`face ${Math.round(e.score * 100)}%`);
  if (e.distance !== null && e.distance !== undefined)
    parts.push(`${e.known ? 'distance' : 'nearest'} ${e.distance.toFixed(2)}`);
  return parts.join(' · ');
}

/** "Enrol as…": a new person, or a sample of someone enrolled, in one step. */
function enrolAs(e: DetectionEvent, ctx: ViewContext, people: () => PersonSummary[]): HTMLElement {
  const toggle = h('button', { type: 'button', class: 'small', 'aria-expanded': 'false' }, 'Enrol as…');
  const box = h('div', { class: 'enrol-as', 'data-write': true }, toggle);
  let form: HTMLFormElement | null = null;
  toggle.addEventListener('click', () => {
    if (form) {
      form.remove();
      form = null;
      toggle.setAttribute('aria-expanded', 'false');
      return;
    }
    toggle.setAttribute('aria-expanded', 'true');
    const fields = enrolAsFields(nextId('as'), 'Enrol this face as', 'a new sample of');
    fields.setPeople(people());
    const name = fields.name;
    const out = h('div', { 'aria-live': 'polite' });
    const submit = h('button', { type: 'submit', class: 'primary small' }, 'Enrol');
    const f = h('form', { class: 'enrol-as-form' }, fields.fieldset, out, submit);
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const body = fields.body();
      if (!body) {
        replace(out, message('error', 'Give the person a name.'));
        name.focus();
        return;
      }
      submit.disabled = true;
      json<{ person: PersonSummary; pictures?: number; refused?: unknown[] }>(
        url(`events/${encodeURIComponent(e.id)}/enrol`),
        { method: 'POST', body, action: 'enrol people' },
      ).then(
        (a) => {
          const p = a.person;
          // The event's crop and the other crops of its passage (enrolment from the track).
          const pictures = a.pictures ?? 1;
          const refused = a.refused?.length
            ? `; ${plural(a.refused.length, 'picture')} refused by the checks`
            : '';
          replace(
            box,
            message('ok', `Enrolled (${plural(pictures, 'picture')}${refused}) as `),
            h('a', { href: `#person/${encodeURIComponent(p.id)}` }, p.name),
          );
          ctx.notice(
            `Enrolled a face from ${e.camera} as ${p.name} (${plural(pictures, 'picture')}${refused}).`,
          );
          document.dispatchEvent(new Event(PEOPLE_CHANGED));
        },
        (err) => {
          submit.disabled = false;
          replace(out, message('error', errorText(err)));
        },
      );
    });
    form = f;
    box.appendChild(f);
    name.focus();
  });
  return box;
}

export const detectionsView: View = async (root, ctx) => {
  let people: PersonSummary[] = [];
  const person = h('select', { id: 'filter-person' }, h('option', { value: '' }, 'Everyone'));
  const camera = h('select', { id: 'filter-camera' }, h('option', { value: '' }, 'All cameras'));
  const known = h(
    'select',
    { id: 'filter-known' },
    h('option', { value: '' }, 'Known and unknown'),
    h('option', { value: 'true' }, 'Known only'),
    h('option', { value: 'false' }, 'Unknown only'),
  );
  const day = h('input', { type: 'date', id: 'filter-date' });
  const list = h('ul', { class: 'events', id: 'events' });
  const status = h('div', { 'aria-live': 'polite' });
  const live = h('p', { class: 'muted small', id: 'events-live', 'aria-live': 'polite' });
  const filters = h(
    'form',
    { class: 'filters', 'aria-label': 'Filters', onsubmit: (ev: Event) => ev.preventDefault() },
    h('div', { class: 'field' }, h('label', { for: person.id }, 'Person'), person),
    h('div', { class: 'field' }, h('label', { for: camera.id }, 'Camera'), camera),
    h('div', { class: 'field' }, h('label', { for: known.id }, 'Faces'), known),
    h('div', { class: 'field' }, h('label', { for: day.id }, 'Date'), day),
  );
  replace(root, h('h2', {}, 'Recent detections'), filters, live, status, list);

  const cameras = new Set<string>();
  const addCameras = (names: string[]): void => {
    for (const n of names) {
      if (cameras.has(n)) continue;
      cameras.add(n);
      camera.appendChild(h('option', { value: n }, n));
    }
  };
  const query = (): Record<string, string | undefined> => {
    const q: Record<string, string | undefined> = {
      person: person.value || undefined,
      camera: camera.value || undefined,
      known: known.value || undefined,
      store: undefined,
    };
    if (day.value) {
      const from = new Date(`${day.value}T00:00:00`);
      const to = new Date(from);
      to.setDate(to.getDate() + 1);
      q.from = from.toISOString();
      q.to = to.toISOString();
    }
    return q;
  };
  let newest: string | undefined;
  let generation = 0;
  const load = async (): Promise<void> => {
    const mine = ++generation;
    try {
      const a = await get<EventsAnswer>('events', 'see detections', { ...query(), limit: LIMIT });
      if (mine !== generation) return;
      addCameras(a.cameras);
      newest = a.events[0]?.id ?? newest;
      replace(status, a.events.length ? null : h('p', { class: 'muted' }, 'No detections match.'));
      replace(list, ...a.events.map((e) => eventItem(e, ctx, () => people)));
      live.textContent = `Showing ${a.events.length}; new detections appear here as they happen.`;
    } catch (err) {
      if (mine === generation) replace(status, message('error', errorText(err)));
    }
  };
  const poll = async (): Promise<void> => {
    // A date in the past gets no new events.
    if (day.value && new Date(`${day.value}T23:59:59`) < new Date()) return;
    const mine = generation;
    try {
      const a = await get<EventsAnswer>('events', 'see detections', {
        ...query(),
        after: newest,
        limit: LIMIT,
      });
      if (mine !== generation || !a.events.length) return;
      addCameras(a.cameras);
      newest = a.events[0].id;
      replace(status);
      list.prepend(...a.events.map((e) => eventItem(e, ctx, () => people)));
      while (list.children.length > 200) list.lastElementChild?.remove();
      live.textContent = `${a.events.length} new ${a.events.length === 1 ? 'detection' : 'detections'} at ${new Date().toLocaleTimeString()}.`;
    } catch (err) {
      replace(status, message('error', errorText(err)));
    }
  };
  for (const el of [person, camera, known, day]) el.addEventListener('change', () => void load());
  const loadPeople = async (): Promise<void> => {
    try {
      people = await get<PersonSummary[]>('faces', 'see enrolled people');
    } catch {
      // The events still load; the person filter stays short.
      return;
    }
    const chosen = person.value;
    replace(
      person,
      h('option', { value: '' }, 'Everyone'),
      ...people.map((p) => h('option', { value: p.id, selected: p.id === chosen }, p.name)),
    );
  };
  const changed = (): void => void loadPeople();
  document.addEventListener(PEOPLE_CHANGED, changed);
  ctx.signal.addEventListener('abort', () => document.removeEventListener(PEOPLE_CHANGED, changed));
  await loadPeople();
  await load();
  ctx.every(POLL_MS, poll);
};
