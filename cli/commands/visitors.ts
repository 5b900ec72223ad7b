/**
 * `facewatch visitors`: the store's recurring visitors from the command line (list, show, merge,
 * split, forget), through the same domain calls as the Face Library's Visitors view, audited with
 * the command line as the actor. One JSON line per visitor or change.
 */
import { storeEvents } from '../../lib/events/store-events';
import { eventVisitor, VISITOR_ID } from '../../lib/events/visitors';
import {
  cliActor,
  closeCliStore,
  EXIT,
  openCliStore,
  parse,
  printJson,
  runCommand,
  UsageError,
} from '../support';

export const usage =
  'visitors --store STORE [list | show ID | merge INTO FROM | split ID EVENT... | forget ID...]   recurring visitors';

const HELP = `usage: facewatch ${usage}

  --store STORE  the face store: a datafile, or postgres://host/db[?schema=name] (password from PGPASSWORD)
list (the default)   one line per visitor, the most visits first: {"id", "visits", "firstSeen",
                     "lastSeen", "cameras", "samples"} (no descriptor)
show ID              the visitor and its sightings: {"id", …, "events": [{"id", "time", "camera"}]}
merge INTO FROM      FROM's sightings become INTO's (two visitors that are one person); FROM is gone
split ID EVENT...    the sightings EVENT... leave visitor ID for a new visitor
forget ID...         erases each visitor: its events, pictures, daily lines and descriptors (files
                     compacted; on PostgreSQL the tables rewritten)
Each change is written to the store's audit log. Enrolling a visitor as a person is done in the Face
Library (its Visitors view), which runs the enrolment's checks on the visitor's pictures.
Exit code: 0 done, 1 a visitor not found or a change refused, 2 usage, 3 the store is in use (e.g. by Node-RED).`;

/** A visitor id from the command line, checked. */
function visitorArg(id: string | undefined, what: string): string {
  if (!id) throw new UsageError(`give ${what}`);
  if (!VISITOR_ID.test(id)) throw new UsageError(`${id.slice(0, 40)} is not a visitor id (VISITOR_0001, …)`);
  return id;
}

export function run(args: string[]): Promise<number> {
  return runCommand('visitors', HELP, async () => {
    const { values, positionals } = parse(args, { store: { type: 'string' } });
    if (!values.store) throw new UsageError('--store is required');
    const [verb = 'list', ...rest] = positionals;
    if (!['list', 'show', 'merge', 'split', 'forget'].includes(verb))
      throw new UsageError(`unknown action ${verb.slice(0, 20)}: list, show, merge, split or forget`);
    // Checked before the store opens: a usage error changes nothing.
    if (verb === 'show') visitorArg(rest[0], 'the visitor ID');
    if (verb === 'merge') {
      visitorArg(rest[0], 'INTO and FROM');
      visitorArg(rest[1], 'INTO and FROM');
    }
    if (verb === 'split') {
      visitorArg(rest[0], 'the visitor ID');
      if (rest.length < 2) throw new UsageError('give the events to split off');
    }
    if (verb === 'forget') {
      if (!rest.length) throw new UsageError('give at least one visitor ID');
      rest.forEach((id) => visitorArg(id, 'the visitor ID'));
    }
    const store = await openCliStore(values.store, 'visitors');
    const events = storeEvents(store);
    const actor = cliActor();
    let failed = 0;
    const refuse = (id: string, error: string): void => {
      failed++;
      printJson({ id, error });
    };
    try {
      switch (verb) {
        case 'list': {
          const book = await events.existingVisitors();
          for (const v of book?.gallery.list() ?? [])
            printJson({ ...eventVisitor(v), samples: v.samples.length });
          break;
        }
        case 'show': {
          const found = await events.visitorEvents(rest[0]);
          if (!found) refuse(rest[0], 'no such visitor');
          else
            printJson({
              ...eventVisitor(found.visitor),
              samples: found.visitor.samples.length,
              events: found.events.map((e) => ({ id: e.id, time: e.time, camera: e.camera })),
            });
          break;
        }
        case 'merge': {
          const [into, from] = rest;
          try {
            const v = await events.mergeVisitors(into, from, actor);
            if (!v) refuse(`${into} ${from}`, 'no such visitor');
            else printJson({ ...eventVisitor(v), merged: from });
          } catch (err) {
            if (!(err instanceof RangeError)) throw err;
            refuse(into, err.message);
          }
          break;
        }
        case 'split': {
          const [id, ...moved] = rest;
          try {
            const out = await events.splitVisitor(id, moved, actor);
            if (!out) refuse(id, 'no such visitor');
            else printJson({ from: eventVisitor(out.from), to: eventVisitor(out.to) });
          } catch (err) {
            if (!(err instanceof RangeError)) throw err;
            refuse(id, err.message);
          }
          break;
        }
        case 'forget':
          for (const id of rest) {
            const n = await events.forgetVisitor(id, actor);
            if (n === null) refuse(id, 'no such visitor');
            else printJson({ id, forgotten: true, events: n });
          }
          break;
      }
    } finally {
      await closeCliStore(store);
    }
    return failed ? EXIT.failed : EXIT.ok;
  });
}
