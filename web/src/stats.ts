/** Statistics: people enrolled, today's events per person and per camera, and events per hour (SVG). */
import { get } from './api';
import { h, message, replace, svg } from './dom';
import { errorText, type View } from './view';
import type { StatsAnswer } from './types';

const REFRESH_MS = 10000;

export const statsView: View = async (root, ctx) => {
  const body = h('div', { id: 'stats' });
  replace(root, h('h2', {}, 'Statistics'), body);
  const load = async (): Promise<void> => {
    let s: StatsAnswer;
    try {
      s = await get<StatsAnswer>('stats', 'see statistics');
    } catch (err) {
      replace(body, message('error', errorText(err)));
      return;
    }
    replace(
      body,
      h(
        'dl',
        { class: 'figures' },
        h('div', {}, h('dt', {}, 'People enrolled'), h('dd', { id: 'stat-people' }, String(s.people))),
        h('div', {}, h('dt', {}, 'Detections today'), h('dd', { id: 'stat-today' }, String(s.eventsToday))),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'hours-title' },
        h('h3', { id: 'hours-title' }, 'Detections per hour today'),
        chart(s.hours),
      ),
      h(
        'div',
        { class: 'columns' },
        table(
          'Today per person',
          ['Person', 'Detections'],
          s.today.byPerson.map((p) => [p.name, p.count]),
          'Nobody recognised today.',
        ),
        table(
          'Today per camera',
          ['Camera', 'Detections'],
          s.today.byCamera.map((c) => [c.camera, c.count]),
          'No detections today.',
        ),
      ),
    );
  };
  await load();
  ctx.every(REFRESH_MS, load);
};

function table(title: string, heads: string[], rows: (string | number)[][], empty: string): HTMLElement {
  const id = `t-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': id },
    h('h3', { id }, title),
    rows.length
      ? h(
          'table',
          {},
          h(
            'thead',
            {},
            h('tr', {}, ...heads.map((t, i) => h('th', { scope: 'col', class: i ? 'num' : null }, t))),
          ),
          h(
            'tbody',
            {},
            ...rows.map((r) =>
              h(
                'tr',
                {},
                ...r.map((c, i) =>
                  h(i ? 'td' : 'th', { class: i ? 'num' : null, scope: i ? null : 'row' }, String(c)),
                ),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, empty),
  );
}

/** 24 bars, one per hour, as SVG built through the DOM (no inline style: colours come from the stylesheet). */
function chart(hours: number[]): SVGElement {
  const W = 720;
  const H = 220;
  const left = 36;
  const bottom = 24;
  const top = 10;
  const max = Math.max(1, ...hours);
  const step = niceStep(max);
  const ceiling = Math.ceil(max / step) * step;
  const bw = (W - left) / 24;
  const y = (v: number): number => top + (H - top - bottom) * (1 - v / ceiling);
  const total = hours.reduce((a, b) => a + b, 0);
  const busiest = hours.indexOf(Math.max(...hours));
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'chart',
    role: 'img',
    'aria-label': total
      ? `Detections per hour today: ${total} in all, most at ${busiest}:00 (${hours[busiest]}).`
      : 'Detections per hour today: none yet.',
    id: 'hours-chart',
  });
  for (let v = 0; v <= ceiling; v += step) {
    root.appendChild(svg('line', { x1: left, x2: W, y1: y(v), y2: y(v), class: 'grid-line' }));
    root.appendChild(
      svg('text', { x: left - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, String(v)),
    );
  }
  hours.forEach((count, hour) => {
    const x = left + hour * bw + 2;
    const bar = svg('rect', {
      x,
      y: y(count),
      width: bw - 4,
      height: Math.max(0, y(0) - y(count)),
      class: 'bar',
    });
    bar.appendChild(
      svg(
        'title',
        {},
        `${String(hour).padStart(2, '0')}:00–${String(hour + 1).padStart(2, '0')}:00: ${count}`,
      ),
    );
    root.appendChild(bar);
    if (hour % 3 === 0)
      root.appendChild(
        svg('text', { x: x + (bw - 4) / 2, y: H - 6, class: 'axis', 'text-anchor': 'middle' }, `${hour}h`),
      );
  });
  return root;
}

function niceStep(max: number): number {
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (raw <= m * mag) return Math.max(1, m * mag);
  return Math.max(1, 10 * mag);
}
