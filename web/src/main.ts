/**
 * The Face Library page: a hash router over its views (#people, #person/<id>, #enrol,
 * #detections, #visitors, #visitor/<id>, #live/<camera>, #stats). The HTML shell holds no data;
 * everything comes from the REST API with the user's Node-RED token.
 */
import { ImageScope, get, setStore } from './api';
import { installAuth, onAuthChange, renderWho } from './auth';
import { detectionsView } from './detections';
import { h, message, replace } from './dom';
import { enrolView } from './enrol';
import { liveView } from './live';
import { peopleView, personView } from './people';
import { statsView } from './stats';
import { visitorsView, visitorView } from './visitors';
import type { StoreInfo } from './types';
import { errorText, type View, type ViewContext } from './view';

const VIEWS: Record<string, { view: View; nav: string; title: string }> = {
  people: { view: peopleView, nav: 'people', title: 'People' },
  person: { view: personView, nav: 'people', title: 'Person' },
  enrol: { view: enrolView, nav: 'enrol', title: 'Enrol' },
  detections: { view: detectionsView, nav: 'detections', title: 'Detections' },
  visitors: { view: visitorsView, nav: 'visitors', title: 'Visitors' },
  visitor: { view: visitorView, nav: 'visitors', title: 'Visitor' },
  live: { view: liveView, nav: 'live', title: 'Live' },
  stats: { view: statsView, nav: 'stats', title: 'Statistics' },
};

let teardown: (() => void) | null = null;
let noticeTimer = 0;

function notice(text: string): void {
  const el = document.getElementById('notice');
  if (!el) return;
  el.textContent = text;
  el.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = window.setTimeout(() => {
    el.hidden = true;
  }, 8000);
}

function route(): void {
  const main = document.getElementById('main');
  if (!main) return;
  teardown?.();
  const [name, ...rest] = location.hash.replace(/^#/, '').split('/');
  const entry = VIEWS[name] ?? VIEWS.people;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('#nav a')) {
    if (a.dataset.view === entry.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${entry.title} · FaceWatch Face Library`;
  const images = new ImageScope();
  const abort = new AbortController();
  const timers: number[] = [];
  const ctx: ViewContext = {
    images,
    signal: abort.signal,
    notice,
    every(ms, fn) {
      let busy = false;
      timers.push(
        window.setInterval(() => {
          if (busy || document.hidden || abort.signal.aborted) return;
          busy = true;
          void Promise.resolve()
            .then(fn)
            .finally(() => {
              busy = false;
            });
        }, ms),
      );
    },
  };
  teardown = () => {
    abort.abort();
    for (const t of timers) clearInterval(t);
    images.dispose();
  };
  const root = h('div', { class: `view view-${name || 'people'}` });
  replace(main, root);
  Promise.resolve(entry.view(root, ctx, rest.join('/'))).catch((err: unknown) => {
    if (!abort.signal.aborted) replace(root, message('error', errorText(err)));
  });
}

/** With several face stores deployed, a chooser in the header; with one, nothing. */
async function stores(): Promise<void> {
  const who = document.getElementById('who');
  let list: StoreInfo[];
  try {
    list = await get<StoreInfo[]>('stores', 'see face stores', { store: undefined });
  } catch {
    return;
  }
  document.getElementById('store-choice')?.remove();
  if (list.length < 2 || !who) return;
  const saved = sessionStorage.getItem('facewatch-store');
  const select = h(
    'select',
    { id: 'store-select' },
    ...list.map((s) =>
      h('option', { value: s.id, selected: s.id === saved }, `${s.name || s.file} (${s.people ?? '?'})`),
    ),
  );
  setStore(select.value);
  select.addEventListener('change', () => {
    sessionStorage.setItem('facewatch-store', select.value);
    setStore(select.value);
    route();
  });
  who.before(
    h(
      'div',
      { class: 'store-choice', id: 'store-choice' },
      h('label', { for: 'store-select' }, 'Face store'),
      select,
    ),
  );
}

function start(): void {
  installAuth();
  const who = document.getElementById('who');
  // Who is signed in first, then the view: a read-only user's view leaves out what changes things.
  const refresh = async (): Promise<void> => {
    if (who) await renderWho(who);
    await stores();
    route();
  };
  onAuthChange(() => void refresh());
  window.addEventListener('hashchange', () => {
    route();
    document.getElementById('main')?.focus({ preventScroll: true });
  });
  void refresh();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
