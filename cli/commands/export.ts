/**
 * `facewatch export`: writes the whole store as JSON (people, descriptors, model id, the audit and,
 * unless --no-images, the face crops), to move it to another installation with `facewatch import`.
 */
import { writeFile } from 'node:fs/promises';
import { closeCliStore, EXIT, openCliStore, parse, runCommand, UsageError } from '../support';

export const usage = 'export --store STORE [--out FILE] [--no-images]   export the store as JSON';

const HELP = `usage: facewatch ${usage}

  --store STORE  the face store: a datafile, or postgres://host/db[?schema=name] (password from PGPASSWORD)
  --out FILE     write here (mode 600) instead of standard output
  --no-images    leave the face crops out (then \`facewatch reembed\` cannot run on the imported store)
The export carries the store's audit lines too (facewatch import adds those the new store lacks).
The export holds biometric data: keep it as safe as the store itself.`;

export function run(args: string[]): Promise<number> {
  return runCommand('export', HELP, async () => {
    const { values } = parse(args, {
      store: { type: 'string' },
      out: { type: 'string' },
      'no-images': { type: 'boolean' },
    });
    if (!values.store) throw new UsageError('--store is required');
    const store = await openCliStore(values.store, 'export');
    try {
      const data = await store.exportJson({ images: !values['no-images'] });
      const text = JSON.stringify(data) + '\n';
      if (values.out) {
        await writeFile(values.out, text, { mode: 0o600 });
        process.stderr.write(`exported ${data.people.length} people to ${values.out}\n`);
      } else process.stdout.write(text);
    } finally {
      await closeCliStore(store);
    }
    return EXIT.ok;
  });
}
