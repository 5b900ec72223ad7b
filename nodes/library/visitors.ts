/**
 * The Face Library's recurring visitors (lib/events/visitors.ts): the unknown faces a store's
 * detection-log told apart, the most visits first, each with its timeline of sightings; Enrol as
 * (a person made, or given samples, from the visitor's best crops through the same checks as any
 * enrolment, and the visitor's events relabelled with them), Merge, Split and Forget (an erasure as
 * thorough as a person's). The domain logic is the store's (lib/events/store-events.ts); this file
 * turns requests into its calls.
 */
import type { Request } from 'express';
import { storeEvents } from '../../lib/events/store-events';
import { eventVisitor, VISITOR_ID, type Visitor } from '../../lib/events/visitors';
import { enrolEventPictures } from '../../lib/store/event-enrol';
import type { Person } from '../../lib/store/types';
import { VISITORS } from '../../lib/types/defaults';
import type {
  VisitorChangeAnswer,
  VisitorDetail,
  VisitorEnrolAnswer,
  VisitorForgetAnswer,
  VisitorsAnswer,
  VisitorSummary,
} from '../../lib/types/library';
import { HttpError } from '../shared/admin';
import type { NodeAPI } from '../shared/red';
import {
  actor,
  EVENT_ID,
  metadataOf,
  param,
  personDetail,
  withEnroller,
  withStore,
  type Handlers,
} from './context';

/** Visitors in one answer of the list, and sightings in one visitor's timeline (the newest). */
const LIST = { default: 200, max: 1000 };
const TIMELINE = 1000;

function summary(v: Visitor): VisitorSummary {
  return { ...eventVisitor(v), best: v.samples.flatMap((s) => (s.event ? [s.event] : [])) };
}

/** A visitor id from the request's path (400 when it is not one). */
function visitorParam(req: Request, value: unknown = req.params.id): string {
  const id = typeof value === 'string' ? value : '';
  if (!VISITOR_ID.test(id)) throw new HttpError(400, 'not a visitor id (VISITOR_0001, …)');
  return id;
}

function noVisitor(id: string): HttpError {
  return new HttpError(404, `no visitor ${id}`);
}

/** The domain's RangeErrors (a merge into itself, an event not of the visitor) are the caller's. */
async function asked<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof RangeError) throw new HttpError(400, err.message);
    throw err;
  }
}

export function visitorRoutes(RED: NodeAPI): Handlers {
  return {
    'GET /facewatch/api/visitors': (req) =>
      withStore(RED, req, async (store): Promise<VisitorsAnswer> => {
        const book = await storeEvents(store).existingVisitors();
        const limit = Math.min(
          Math.max(Number(param(req, 'limit') ?? LIST.default) || LIST.default, 1),
          LIST.max,
        );
        if (!book) return { visitors: [], total: 0, tracked: false };
        const all = book.gallery.list();
        return { visitors: all.slice(0, limit).map(summary), total: all.length, tracked: true };
      }),

    'GET /facewatch/api/visitors/:id': (req) =>
      withStore(RED, req, async (store): Promise<VisitorDetail> => {
        const id = visitorParam(req);
        const found = await storeEvents(store).visitorEvents(id);
        if (!found) throw noVisitor(id);
        return { ...summary(found.visitor), events: found.events.slice(-TIMELINE) };
      }),

    'POST /facewatch/api/visitors/:id/enrol': (req) =>
      withStore(RED, req, async (store, provider) => {
        const id = visitorParam(req);
        const body = (req.body ?? {}) as {
          name?: unknown;
          id?: unknown;
          metadata?: unknown;
          person?: unknown;
        };
        const existing = typeof body.person === 'string' && body.person ? body.person : undefined;
        if (existing && !store.getPerson(existing)) throw new HttpError(404, `no person with id ${existing}`);
        const newId = typeof body.id === 'string' && body.id ? body.id : undefined;
        const name = typeof body.name === 'string' ? body.name.trim() : '';
        if (!existing && !name)
          throw new HttpError(400, 'give the person a name (or an enrolled person to add to)');
        if (!existing && newId && store.getPerson(newId))
          throw new HttpError(409, `a person with id ${newId} already exists`, { code: 'EEXISTS' });
        const metadata = existing ? undefined : metadataOf(body.metadata);
        const events = storeEvents(store);
        const pictures = await events.visitorPictures(id, VISITORS.enrolPictures.default);
        if (!pictures) throw noVisitor(id);
        if (!pictures.length)
          throw new HttpError(422, `no picture of visitor ${id} is kept (snapshots are off)`, {
            code: 'EIMAGE',
          });
        // The first picture the checks accept makes the person (through the duplicate check), the
        // rest are their samples; a picture the checks refuse is left out, anything else stops.
        const sourceOf = (event: string): string => `visitor:${id}:event:${event}`;
        const eventOf = new Map(pictures.map((p) => [sourceOf(p.event), p.event]));
        const out = await withEnroller(RED, store, provider.id, (enroller) =>
          enrolEventPictures(
            enroller,
            pictures.map((p) => ({ image: p.image, source: sourceOf(p.event) })),
            existing ? { id: existing, actor: actor(req) } : { id: newId, name, metadata, actor: actor(req) },
            existing ? 'add-sample' : 'refuse',
          ),
        );
        const person: Person = out.result.person;
        const enrolled = out.enrolled.map((s) => eventOf.get(s) ?? s);
        const refused: VisitorEnrolAnswer['refused'] = out.refused.map((r) => ({
          event: eventOf.get(r.source) ?? r.source,
          error: r.error,
          code: r.code,
        }));
        const relabelled =
          (await events.visitorEnrolled(id, { id: person.id, name: person.name }, actor(req))) ?? 0;
        const answer: VisitorEnrolAnswer = {
          status: existing ? 'sample-added' : 'enrolled',
          person: personDetail(store.getPerson(person.id) ?? person),
          enrolled,
          refused,
          relabelled,
        };
        return { status: 201, body: answer };
      }),

    'POST /facewatch/api/visitors/:id/merge': (req) =>
      withStore(RED, req, async (store): Promise<VisitorChangeAnswer> => {
        const id = visitorParam(req);
        const from = visitorParam(req, (req.body as { from?: unknown } | undefined)?.from);
        const v = await asked(() => storeEvents(store).mergeVisitors(id, from, actor(req)));
        if (!v) throw new HttpError(404, `no visitor ${id} or ${from}`);
        return { visitors: [summary(v)] };
      }),

    'POST /facewatch/api/visitors/:id/split': (req) =>
      withStore(RED, req, async (store): Promise<VisitorChangeAnswer> => {
        const id = visitorParam(req);
        const ids = (req.body as { events?: unknown } | undefined)?.events;
        if (
          !Array.isArray(ids) ||
          !ids.length ||
          ids.length > TIMELINE ||
          !ids.every((e) => typeof e === 'string' && EVENT_ID.test(e))
        )
          throw new HttpError(400, 'events must be a list of the visitor’s event ids to split off');
        const out = await asked(() => storeEvents(store).splitVisitor(id, ids as string[], actor(req)));
        if (!out) throw noVisitor(id);
        return { visitors: [summary(out.from), summary(out.to)] };
      }),

    'DELETE /facewatch/api/visitors/:id': (req) =>
      withStore(RED, req, async (store): Promise<VisitorForgetAnswer> => {
        const id = visitorParam(req);
        const n = await storeEvents(store).forgetVisitor(id, actor(req));
        if (n === null) throw noVisitor(id);
        return { forgotten: true, id, events: n };
      }),
  };
}
