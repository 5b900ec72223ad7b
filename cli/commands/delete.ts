/**
 * `facewatch delete`: deletes people and erases their data (datafile compacted, backups
 * rewritten, images deleted, audit lines scrubbed, their detection events and their face in other
 * events' pictures), through the store's erasure journal. One JSON line per id.
 */
import { erasuresFinishedAtOpen } from '../../lib/events/store-events';
import { isStoreError } from '../../lib/store/errors';
import { closeCliStore, EXIT, openCliStore, parse, printJson, runCommand, UsageError } from '../support';

export const usage = 'delete --store STORE ID...   delete people and erase their data';

const HELP = `usage: facewatch ${usage}

  --store STORE  the face store: a datafile, or postgres://host/db[?schema=name] (password from PGPASSWORD)
Erases each person's descriptors from the datafile (compacted) and from every backup, deletes their
face images and their detection events (pictures and daily lines; their face is pixelated and their
name removed in other people's events), and leaves only time, action, id and actor of their lines in the audit log (the deletion
is recorded there without the name). An erasure is recorded before it starts: one that was cut short
(a crash, a full disk) is finished by deleting the same id again, and the store's part of it already
when the store opens.
Prints {"id", "deleted"} per id; "resumed": true when it finished an erasure cut short earlier;
{"id", "deleted": false, "error"} when it failed ("pending": true when the erasure stays recorded).
Exit code: 0 all deleted, 1 some id not found or failed, 2 usage, 3 the store is in use (e.g. by Node-RED).`;

export function run(args: string[]): Promise<number> {
  return runCommand('delete', HELP, async () => {
    const { values, positionals } = parse(args, { store: { type: 'string' } });
    if (!values.store) throw new UsageError('--store is required');
    if (!positionals.length) throw new UsageError('give at least one person ID');
    const store = await openCliStore(values.store, 'delete');
    let failed = 0;
    try {
      for (const id of positionals) {
        // An erasure cut short earlier is finished when the store opens (with its detection log).
        if (erasuresFinishedAtOpen(store).includes(id)) {
          printJson({ id, deleted: true, resumed: true });
          continue;
        }
        const resumed = (await store.pendingErasures()).some((e) => e.id === id);
        try {
          const deleted = await store.deletePerson(id);
          if (!deleted) failed++;
          printJson(resumed ? { id, deleted, resumed } : { id, deleted });
        } catch (err) {
          if (!isStoreError(err)) throw err;
          failed++;
          const pending = (await store.pendingErasures()).some((e) => e.id === id);
          printJson({ id, deleted: false, ...(pending ? { pending } : {}), error: err.message });
        }
      }
    } finally {
      await closeCliStore(store);
    }
    return failed ? EXIT.failed : EXIT.ok;
  });
}
