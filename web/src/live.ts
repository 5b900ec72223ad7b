/**
 * Live view: each camera's state, frame rate and start/stop; for the chosen camera the latest frames
 * (long poll `cameras/:id/live?after=<seq>`, then `frame?seq=` fetched with the token) drawn on a
 * canvas with the faces' boxes and names drawn in the browser.
 */
import { ApiError, call, get, json, url } from './api';
import { h, message, replace } from './dom';
import { errorText, type View, type ViewContext } from './view';
import type { CameraInfo, LiveFace, LiveFrame } from './types';

const CAMERAS_MS = 3000;

export const liveView: View = async (root, ctx, arg) => {
  const chosen = arg ? decodeURIComponent(arg) : '';
  const list = h('ul', { class: 'cameras', id: 'cameras' });
  const status = h('div', { 'aria-live': 'polite' });
  const stage = h('div', { class: 'stage' });
  replace(root, h('h2', {}, 'Live view'), status, list, stage);

  let cameras: CameraInfo[] = [];
  let shown = '';
  const cards = new Map<
    string,
    { state: HTMLElement; fps: HTMLElement; start: HTMLButtonElement; stop: HTMLButtonElement }
  >();

  const control = (cam: CameraInfo, verb: 'start' | 'stop'): void => {
    json<CameraInfo>(url(`cameras/${encodeURIComponent(cam.id)}/${verb}`, { store: undefined }), {
      method: 'POST',
      action: `${verb} cameras`,
    }).then(
      (c) => {
        update(c);
        replace(status);
      },
      (err) => replace(status, message('error', errorText(err))),
    );
  };
  const update = (c: CameraInfo): void => {
    const card = cards.get(c.id);
    if (!card) return;
    card.state.textContent = c.reason ? `${c.state}: ${c.reason}` : c.state;
    card.state.className = `state state-${c.state.replace(/[^a-z-]/gi, '')}`;
    card.fps.textContent = `${c.fps ? c.fps.toFixed(1) : '0'} fps`;
    const running = /^(connected|connecting|running|reconnecting|started)$/i.test(c.state);
    card.start.disabled = running;
    card.stop.disabled = !running;
  };
  const refresh = async (): Promise<void> => {
    try {
      cameras = await get<CameraInfo[]>('cameras', 'see cameras', { store: undefined });
    } catch (err) {
      replace(status, message('error', errorText(err)));
      return;
    }
    const ids = cameras.map((c) => c.id).join('\n');
    if (ids !== [...cards.keys()].join('\n')) {
      cards.clear();
      replace(
        list,
        ...cameras.map((c) => {
          const state = h('span', { class: 'state' });
          const fps = h('span', { class: 'fps small' });
          const start = h('button', { type: 'button', class: 'small', 'data-write': true }, 'Start');
          const stop = h('button', { type: 'button', class: 'small', 'data-write': true }, 'Stop');
          start.setAttribute('aria-label', `Start ${c.name}`);
          stop.setAttribute('aria-label', `Stop ${c.name}`);
          start.addEventListener('click', () => control(c, 'start'));
          stop.addEventListener('click', () => control(c, 'stop'));
          cards.set(c.id, { state, fps, start, stop });
          return h(
            'li',
            { class: `card camera${c.id === shown ? ' current' : ''}`, 'data-id': c.id },
            h(
              'a',
              { href: `#live/${encodeURIComponent(c.id)}`, 'aria-current': c.id === shown ? 'page' : null },
              c.name || c.camera,
            ),
            c.camera && c.camera !== c.name ? h('span', { class: 'small muted' }, c.camera) : null,
            h('span', {}, state, ' · ', fps),
            h('span', { class: 'buttons' }, start, stop),
          );
        }),
      );
      if (!cameras.length)
        replace(
          status,
          h(
            'p',
            { class: 'muted' },
            'No camera is deployed: add an rtsp-source with face-detect and face-match to a flow.',
          ),
        );
    }
    for (const c of cameras) update(c);
  };
  await refresh();
  ctx.every(CAMERAS_MS, refresh);
  shown = chosen || cameras[0]?.id || '';
  const cam = cameras.find((c) => c.id === shown);
  if (!cam) {
    if (chosen) replace(stage, message('error', 'That camera is not deployed.'));
    return;
  }
  for (const li of list.querySelectorAll('li')) {
    const current = li.getAttribute('data-id') === shown;
    li.classList.toggle('current', current);
    li.querySelector('a')?.toggleAttribute('aria-current', current);
    if (current) li.querySelector('a')?.setAttribute('aria-current', 'page');
  }
  showCamera(stage, cam, ctx);
};

function showCamera(stage: HTMLElement, cam: CameraInfo, ctx: ViewContext): void {
  const canvas = h('canvas', {
    id: 'live-canvas',
    role: 'img',
    'aria-label': `Live view of ${cam.name}`,
    width: cam.width || 640,
    height: cam.height || 360,
  });
  const faces = h('ul', { class: 'live-faces', id: 'live-faces', 'aria-label': 'Faces in view' });
  const info = h('p', { class: 'small muted', id: 'live-info' }, 'Waiting for frames…');
  const out = h('div', { 'aria-live': 'polite' });
  replace(
    stage,
    h('h3', {}, cam.name || cam.camera),
    h('div', { class: 'canvas-wrap' }, canvas),
    info,
    h('h4', {}, 'In view'),
    faces,
    out,
  );
  const g = canvas.getContext('2d');
  if (!g) return;
  let seq: number | undefined;
  let shownAt: number[] = [];
  let lastNames = '';
  const base = `cameras/${encodeURIComponent(cam.id)}`;
  const loop = async (): Promise<void> => {
    while (!ctx.signal.aborted) {
      try {
        const res = await call(url(`${base}/live`, { after: seq, store: undefined }), {
          action: 'see the live view',
          signal: ctx.signal,
        });
        if (res.status === 204) continue;
        const frame = (await res.json()) as LiveFrame;
        seq = frame.seq;
        const blob = await (
          await call(url(`${base}/frame`, { seq: frame.seq, store: undefined }), {
            action: 'see the live view',
            signal: ctx.signal,
          })
        ).blob();
        const src = URL.createObjectURL(blob);
        try {
          const img = new Image();
          img.src = src;
          await img.decode();
          draw(g, canvas, img, frame);
        } finally {
          URL.revokeObjectURL(src);
        }
        const now = performance.now();
        shownAt = [...shownAt.filter((t) => now - t < 5000), now];
        const rate = shownAt.length > 1 ? ((shownAt.length - 1) * 1000) / (now - shownAt[0]) : 0;
        info.textContent = `Frame ${frame.seq} · ${frame.width}×${frame.height} · ${rate.toFixed(1)} frames/s shown`;
        const names = frame.faces.map(label).join('\n');
        if (names !== lastNames) {
          lastNames = names;
          replace(
            faces,
            ...(frame.faces.length
              ? frame.faces.map((f) => h('li', { class: f.known ? 'known' : 'unknown' }, label(f)))
              : [h('li', { class: 'muted' }, 'nobody')]),
          );
        }
        replace(out);
      } catch (err) {
        if (ctx.signal.aborted) return;
        replace(out, message('error', errorText(err)));
        if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404))
          return;
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  };
  void loop();
}

function label(f: LiveFace): string {
  return f.name ? `${f.name} ${Math.round(f.confidence * 100)}%` : 'unknown';
}

function draw(
  g: CanvasRenderingContext2D,
  canvas: HTMLCanvasElement,
  img: HTMLImageElement,
  frame: LiveFrame,
): void {
  const w = frame.width || img.naturalWidth;
  const hgt = frame.height || img.naturalHeight;
  if (canvas.width !== w || canvas.height !== hgt) {
    canvas.width = w;
    canvas.height = hgt;
  }
  g.drawImage(img, 0, 0, w, hgt);
  const line = Math.max(2, Math.round(w / 320));
  const font = Math.max(12, Math.round(w / 40));
  g.font = `${font}px system-ui, sans-serif`;
  g.textBaseline = 'top';
  for (const f of frame.faces) {
    const colour = f.known ? '#2ecc71' : '#f39c12';
    const { x, y, width, height } = f.box;
    g.lineWidth = line;
    g.strokeStyle = colour;
    g.strokeRect(x, y, width, height);
    const text = label(f);
    const tw = g.measureText(text).width + 8;
    const ty = y - font - 6 >= 0 ? y - font - 6 : y + height;
    g.fillStyle = colour;
    g.fillRect(x - line / 2, ty, tw, font + 6);
    g.fillStyle = '#000';
    g.fillText(text, x + 4 - line / 2, ty + 3);
  }
}
