/**
 * The Face Library's detection events: the events of one store or of all (filtered by person,
 * camera, kind, time, and `after` an event), their pictures, enrolling an unknown face from its event
 * (lib/store/event-enrol.ts), and today's statistics.
 */
import type { DetectionLog } from '../../lib/events/log';
import { storeEvents } from '../../lib/events/store-events';
import { enrolEventPictures } from '../../lib/store/event-enrol';
import type { DetectionEvent } from '../../lib/types/events';
import { EVENT_QUERY } from '../../lib/types/defaults';
import type { EnrolAnswer, EventsAnswer, StatsAnswer } from '../../lib/types/library';
import { HttpError } from '../shared/admin';
import type { NodeAPI } from '../shared/red';
import {
  actor,
  EVENT_ID,
  jpeg,
  metadataOf,
  newestFirst,
  param,
  personDetail,
  withEnroller,
  withLogs,
  withStore,
  type Handlers,
} from './context';
import type { LibraryRegistry } from './registry';

export function eventRoutes(RED: NodeAPI, reg: LibraryRegistry): Handlers {
  const recentEvents = (
    storeId: string | undefined,
    q: Parameters<DetectionLog['query']>[0],
  ): Promise<DetectionEvent[]> =>
    withLogs(RED, storeId, async (logs) => {
      const all: DetectionEvent[] = [];
      for (const log of logs) all.push(...(await log.query(q)));
      return all.sort(newestFirst);
    });

  /** An event's picture, from whichever store's log holds the event. */
  const eventImage = (id: string, which: 'snapshot' | 'crop' | 'frame'): Promise<Buffer | undefined> => {
    if (!EVENT_ID.test(id)) throw new HttpError(400, 'not an event id');
    // Any store's: the event may be another store's than the one a person is enrolled into.
    return withLogs(RED, undefined, async (logs) => {
      for (const log of logs) {
        const data = await log[which](id);
        if (data) return data;
      }
      return undefined;
    });
  };
  const eventPicture = async (id: string, which: 'snapshot' | 'crop') => {
    const data = await eventImage(id, which);
    if (!data) throw new HttpError(404, `no ${which} for event ${id.slice(0, 64)}`);
    return jpeg(data);
  };

  return {
    'GET /facewatch/api/events': async (req): Promise<EventsAnswer> => {
      const knownText = param(req, 'known');
      if (knownText !== undefined && knownText !== 'true' && knownText !== 'false')
        throw new HttpError(400, 'known must be true or false');
      const { limit: L } = EVENT_QUERY;
      const limit = Math.min(Math.max(Number(param(req, 'limit') ?? L.default) || L.default, L.min), L.max);
      let events: DetectionEvent[];
      try {
        // Every filter, `after` included, applies before the limit (in each store's query).
        events = await recentEvents(param(req, 'store'), {
          person: param(req, 'person'),
          camera: param(req, 'camera'),
          known: knownText === undefined ? undefined : knownText === 'true',
          from: param(req, 'from'),
          to: param(req, 'to'),
          after: param(req, 'after'),
          limit,
        });
      } catch (err) {
        if (err instanceof RangeError) throw new HttpError(400, err.message);
        throw err;
      }
      const cameras = new Set<string>();
      for (const s of reg.sources.values()) {
        const c = s.cameraName();
        if (c) cameras.add(c);
      }
      for (const e of events) cameras.add(e.camera);
      return { events: events.slice(0, limit), cameras: [...cameras].sort() };
    },

    'GET /facewatch/api/events/:id/snapshot': (req) => eventPicture(String(req.params.id), 'snapshot'),
    'GET /facewatch/api/events/:id/crop': (req) => eventPicture(String(req.params.id), 'crop'),

    'POST /facewatch/api/events/:id/enrol': (req) =>
      withStore(RED, req, async (store, provider) => {
        const body = (req.body ?? {}) as {
          name?: unknown;
          id?: unknown;
          metadata?: unknown;
          person?: unknown;
        };
        const eventId = String(req.params.id);
        if (!EVENT_ID.test(eventId)) throw new HttpError(400, 'not an event id');
        // The face's crop (else the plain frame: no boxes or names drawn over the face), then the
        // other crops of its passage: enrolment from the track. Any store's log may hold the event.
        const pictures = await withLogs(RED, undefined, async (logs) => {
          for (const log of logs) {
            const found = await log.enrolPictures(eventId);
            if (found.length) return found;
          }
          return [];
        });
        if (!pictures.length) throw new HttpError(404, `no picture of event ${eventId.slice(0, 64)}`);
        const existing = typeof body.person === 'string' && body.person ? body.person : undefined;
        if (existing && !store.getPerson(existing)) throw new HttpError(404, `no person with id ${existing}`);
        const id = existing ?? (typeof body.id === 'string' && body.id ? body.id : undefined);
        if (!existing && id && store.getPerson(id))
          throw new HttpError(409, `a person with id ${id} already exists`, { code: 'EEXISTS' });
        const out = await withEnroller(RED, store, provider.id, (enroller) =>
          enrolEventPictures(
            enroller,
            pictures.map((image, i) => ({
              image,
              source: i ? `event:${eventId}:sample-${i}` : `event:${eventId}`,
            })),
            {
              id,
              name: existing ? undefined : typeof body.name === 'string' ? body.name : undefined,
              metadata: existing ? undefined : metadataOf(body.metadata),
              actor: actor(req),
            },
            existing ? 'add-sample' : 'refuse',
          ),
        );
        const person = store.getPerson(out.result.person.id) ?? out.result.person;
        const answer: EnrolAnswer = {
          status: out.status,
          person: personDetail(person),
          pictures: out.enrolled.length,
          refused: out.refused.map((r) => ({ picture: r.source, code: r.code, error: r.error })),
        };
        return { status: 201, body: answer };
      }),

    'GET /facewatch/api/stats': (req) =>
      withStore(RED, req, async (store): Promise<StatsAnswer> => {
        const people = store.size();
        let eventsToday = 0;
        const hours = new Array<number>(24).fill(0);
        const byName = new Map<string, { id: string | null; name: string; count: number }>();
        const byCamera = new Map<string, number>();
        const log = await storeEvents(store).existing();
        for (const s of log ? [await log.stats(people)] : []) {
          eventsToday += s.eventsToday;
          s.todayByHour.forEach((n, h) => (hours[h] += n));
          for (const [camera, n] of Object.entries(s.todayByCamera))
            byCamera.set(camera, (byCamera.get(camera) ?? 0) + n);
          for (const [id, { name, count }] of Object.entries(s.todayByPersonId)) {
            const cur = byName.get(id) ?? { id, name, count: 0 };
            cur.count += count;
            byName.set(id, cur);
          }
          // Not todayByPerson.unknown: someone may be enrolled under the name "unknown".
          const named = Object.values(s.todayByPersonId).reduce((sum, p) => sum + p.count, 0);
          const unknown = s.eventsToday - named;
          if (unknown) {
            const cur = byName.get('') ?? { id: null, name: 'unknown', count: 0 };
            cur.count += unknown;
            byName.set('', cur);
          }
        }
        return {
          people,
          eventsToday,
          today: {
            byPerson: [...byName.values()].sort((a, b) => b.count - a.count),
            byCamera: [...byCamera.entries()]
              .map(([camera, count]) => ({ camera, count }))
              .sort((a, b) => b.count - a.count),
          },
          hours,
        };
      }),
  };
}
