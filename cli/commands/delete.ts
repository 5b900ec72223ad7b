/**
 * `facewatch delete`: deletes people and erases their biometric data (datafile compacted,
 * backups rewritten, images deleted). One JSON line per id.
 */
import { EXIT, openCliStore, parse, printJson, runCommand, UsageError } from '../support';

export const usage = 'delete --store FILE ID...   delete people and erase their data';

const HELP = `usage: facewatch ${usage}

  --store FILE   the face store datafile
Erases each person's descriptors from the datafile (compacted) and from every backup, deletes their
face images and records the deletion in the audit log. Prints {"id", "deleted"} per id.
Exit code: 0 all deleted, 1 some id not found, 2 usage, 3 the store is in use (e.g. by Node-RED).`;

export function run(args: string[]): Promise<number> {
  return runCommand('delete', HELP, async () => {
    const { values, positionals } = parse(args, { store: { type: 'string' } });
    if (!values.store) throw new UsageError('--store is required');
    if (!positionals.length) throw new UsageError('give at least one person ID');
    const store = await openCliStore(values.store, 'delete');
    let missing = 0;
    try {
      for (const id of positionals) {
        const deleted = await store.deletePerson(id);
        if (!deleted) missing++;
        printJson({ id, deleted });
      }
    } finally {
      await store.close();
    }
    return missing ? EXIT.failed : EXIT.ok;
  });
}
