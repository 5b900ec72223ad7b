/**
 * Signing in: the page uses the editor's token (localStorage "auth-tokens"). When the API answers
 * 401, a still-valid token means the user lacks the permission; otherwise the page asks for a user
 * name and password and gets a token from Node-RED's `auth/token`, as the editor does.
 */
import {
  ApiError,
  authHeaders,
  clearTokens,
  onUnauthorised,
  permissionError,
  saveTokens,
  token,
} from './api';
import { field, h, message, replace } from './dom';

/** Node-RED's own routes, one level up from the page (`<adminRoot>facewatch/`). */
const LOGIN = '../auth/login';
const TOKEN = '../auth/token';
const REVOKE = '../auth/revoke';
const SETTINGS = '../settings';

interface LoginInfo {
  type?: string;
  prompts?: { id: string; type: string; label: string }[];
}

const listeners: (() => void)[] = [];
/** Runs `fn` after every sign-in or sign-out. */
export function onAuthChange(fn: () => void): void {
  listeners.push(fn);
}
function changed(): void {
  for (const fn of listeners) fn();
}

let readOnlyUser = false;

/**
 * Whether the signed-in user may only look (Node-RED's permissions give no facewatch.write): the page
 * then hides every control that changes something (marked `data-write`) and shows the inputs as
 * read-only. The server refuses such a user's changes whatever the page shows.
 */
export function readOnly(): boolean {
  return readOnlyUser;
}

/** The signed-in user's name, or null (no token, or no adminAuth). */
export async function currentUser(): Promise<string | null> {
  return (await signedIn())?.username ?? null;
}

interface SignedIn {
  username: string;
  /** Whether Node-RED's permissions let this user change anything here. */
  canWrite: boolean;
}

/** The signed-in user (from Node-RED's settings), or null. */
async function signedIn(): Promise<SignedIn | null> {
  if (!token()) return null;
  try {
    const res = await fetch(SETTINGS, { headers: authHeaders(), cache: 'no-store' });
    if (!res.ok) return null;
    const s = (await res.json()) as { user?: { username?: string; permissions?: unknown } };
    if (!s.user?.username) return null;
    const perms = ([] as unknown[]).concat(s.user.permissions ?? []);
    const canWrite = perms.some((p) => p === '*' || p === 'facewatch.write' || p === 'facewatch.*');
    return { username: s.user.username, canWrite };
  } catch {
    return null;
  }
}

/** Whether Node-RED asks for credentials at all. */
export async function authRequired(): Promise<LoginInfo | null> {
  try {
    const res = await fetch(LOGIN, { cache: 'no-store' });
    if (!res.ok) return null;
    const info = (await res.json()) as LoginInfo;
    return info.type ? info : null;
  } catch {
    return null;
  }
}

let dialog: HTMLDialogElement | null = null;

/** Shows the sign-in form (once, however many calls failed). */
export function showSignIn(): void {
  if (dialog?.open) return;
  dialog?.remove();
  const user = h('input', { name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const out = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin', method: 'dialog' },
    h('h2', { id: 'signin-title' }, 'Sign in to Node-RED'),
    h('p', {}, 'The Face Library uses your Node-RED editor account.'),
    field('User name', user),
    field('Password', pass),
    out,
    h('div', { class: 'actions' }, submit),
  );
  dialog = h('dialog', { 'aria-labelledby': 'signin-title', id: 'signin' }, form);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    replace(out);
    void signIn(user.value, pass.value).then(
      () => {
        dialog?.close();
        changed();
      },
      (err: Error) => {
        submit.disabled = false;
        replace(out, message('error', err.message));
        pass.select();
      },
    );
  });
  document.body.appendChild(dialog);
  void authRequired().then((info) => {
    if (info && info.type !== 'credentials') {
      replace(
        form,
        h('h2', { id: 'signin-title' }, 'Sign in to Node-RED'),
        h('p', {}, 'Sign in through the Node-RED editor first, then reload this page.'),
        h('a', { href: '../', class: 'button' }, 'Open the editor'),
      );
    }
  });
  dialog.showModal();
  user.focus();
}

async function signIn(username: string, password: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(TOKEN, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: 'node-red-editor',
        grant_type: 'password',
        scope: '',
        username,
        password,
      }),
    });
  } catch {
    throw new Error('Could not reach Node-RED.');
  }
  if (res.status === 401 || res.status === 403) throw new Error('Wrong user name or password.');
  if (!res.ok) throw new Error(`Sign-in failed (HTTP ${res.status}).`);
  saveTokens(await res.json());
}

/** Revokes the token and forgets it. */
export async function signOut(): Promise<void> {
  const t = token();
  if (t) {
    try {
      await fetch(REVOKE, {
        method: 'POST',
        headers: { ...authHeaders(), 'content-type': 'application/json' },
        body: JSON.stringify({ token: t }),
      });
    } catch {
      // Forgetting the token locally is what matters.
    }
  }
  clearTokens();
  changed();
}

/** Installs the 401 handling into the API module. */
export function installAuth(): void {
  onUnauthorised(async (action) => {
    if (token() && (await currentUser())) throw permissionError(action);
    clearTokens();
    showSignIn();
    throw new ApiError(401, `Sign in to ${action}.`);
  });
}

/**
 * Renders the header's "signed in as" line and its sign-in / sign-out button; asks to sign in at
 * once when Node-RED wants credentials and there is no valid token (whatever the view).
 */
export async function renderWho(el: HTMLElement): Promise<void> {
  const [info, user] = await Promise.all([authRequired(), signedIn()]);
  readOnlyUser = Boolean(info && user && !user.canWrite);
  document.body.classList.toggle('readonly', readOnlyUser);
  if (!info) {
    replace(el);
    return;
  }
  if (user) {
    replace(
      el,
      h(
        'span',
        {},
        'Signed in as ',
        h('strong', {}, user.username),
        user.canWrite
          ? null
          : h('span', { class: 'readonly', title: 'You can look, not change' }, ' (read only)'),
      ),
      ' ',
      h('button', { type: 'button', class: 'link', onclick: () => void signOut() }, 'Sign out'),
    );
  } else {
    replace(el, h('button', { type: 'button', onclick: () => showSignIn() }, 'Sign in'));
    showSignIn();
  }
}
