/**
 * `facewatch enrol`: enrols one person from one or more photos (the first enrols, the others add
 * samples), with the same checks as the face-register node. One JSON line per photo.
 */
import { readFile } from 'node:fs/promises';
import { ENGINE, ENROL } from '../../lib/types/defaults';
import {
  choicesText,
  defaultText,
  eachFile,
  enrolPolicies,
  numberOption,
  parse,
  printJson,
  runCommand,
  UsageError,
  withEngine,
  withStore,
} from '../support';
import { Enroller } from '../../lib/store/enrol';

export const usage =
  'enrol --store STORE --name NAME [--id ID] [options] PHOTO...   enrol a person from photos';

const HELP = `usage: facewatch ${usage}

  --store STORE         the face store: a datafile (e.g. <userDir>/facewatch/faces.db) or postgres://host/db[?schema=name]
  --name NAME           the person's name (needed for a new person)
  --id ID               the person's id; generated (PERSON_0001, ...) when absent
  --metadata JSON       a JSON object stored with the person ({"role": "staff"})
  --largest             use the largest face when a photo shows several (default: refuse)
  --on-duplicate P      a face closer than ${ENROL.duplicateThreshold.default} to an enrolled person: ${choicesText(ENROL.duplicatePolicy)}
  --on-existing P       the id exists: ${choicesText(ENROL.existing)} (update replaces the samples)
  --min-face-size PX    smallest accepted face ${defaultText(ENROL.minFaceSize)}
  --backend B           ${choicesText(ENGINE.backend)}
Prints one JSON line per photo: {"file", "status", "id", "name", "sampleId"} or {"file", "error", "code"}.
Exit code: 0 all photos enrolled, 1 some refused, 2 usage, 3 the store is in use (e.g. by Node-RED).`;

export function run(args: string[]): Promise<number> {
  return runCommand('enrol', HELP, async () => {
    const { values, positionals } = parse(args, {
      store: { type: 'string' },
      name: { type: 'string' },
      id: { type: 'string' },
      metadata: { type: 'string' },
      largest: { type: 'boolean' },
      'on-duplicate': { type: 'string' },
      'on-existing': { type: 'string' },
      'min-face-size': { type: 'string' },
      backend: { type: 'string' },
    });
    if (!values.store) throw new UsageError('--store is required');
    if (!positionals.length) throw new UsageError('give at least one PHOTO');
    let metadata: Record<string, unknown> | undefined;
    if (values.metadata !== undefined) {
      try {
        metadata = JSON.parse(values.metadata) as Record<string, unknown>;
      } catch {
        throw new UsageError('--metadata must be a JSON object');
      }
    }
    const policies = enrolPolicies(values, 'add-sample');
    const minFaceSize = numberOption(values['min-face-size'], 'min-face-size', ENROL.minFaceSize);
    return withStore(values.store, 'enrol', (store) =>
      withEngine({ backend: values.backend, poolSize: 1 }, (engine) => {
        const enroller = new Enroller(store, engine, {
          faces: values.largest ? 'largest' : 'single',
          minFaceSize,
          ...policies,
        });
        let id = values.id;
        return eachFile(positionals, async (file, i) => {
          const image = await readFile(file).catch(() => {
            throw Object.assign(new Error(`photo ${file} not found or unreadable`), { code: 'ENOFILE' });
          });
          // Later photos add samples to the person the first one enrolled.
          const r = await enroller.enrol(
            {
              image,
              fileName: file,
              name: i === 0 || !id ? values.name : undefined,
              id,
              metadata: i === 0 ? metadata : undefined,
            },
            i > 0 && id ? { existing: 'add-sample' } : {},
          );
          id = r.person.id;
          printJson({
            file,
            status: r.status,
            id: r.person.id,
            name: r.person.name,
            sampleId: r.sampleId,
            ...(r.duplicateOf ? { duplicateOf: r.duplicateOf } : {}),
          });
        });
      }),
    );
  });
}
