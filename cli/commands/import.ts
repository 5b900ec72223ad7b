/**
 * `facewatch import`: bulk enrolment from a folder (a sub-folder per person), a CSV/JSON manifest
 * (id,name,metadata,photo), the original system's registered_faces folder, or a FaceWatch export.
 * One JSON line per row, then a summary line.
 */
import { ENGINE, ENROL } from '../../lib/types/defaults';
import {
  choicesText,
  defaultText,
  enrolPolicies,
  EXIT,
  numberOption,
  parse,
  printJson,
  runCommand,
  UsageError,
  withEngine,
  withStore,
  type CliEngine,
} from '../support';
import { detectKind, importSource } from '../../lib/store/import';

export const usage =
  'import --store STORE [options] SOURCE   bulk enrolment: folders, manifest, old system, export';

const HELP = `usage: facewatch ${usage}

SOURCE is one of:
  a folder with a sub-folder per person (the folder name is the name; every photo enrols or adds a sample)
  a .csv or .json manifest with columns id,name,metadata,photo (photo paths relative to the manifest;
    metadata: a JSON object, key=value;key=value, or free text kept as {"note": ...})
  the original system's data folder (face_recognition_data/registered_faces/<PERSON_ID>_<name>.jpg):
    photos are embedded again, ids and names are kept
  a FaceWatch export (facewatch export)
Options:
  --store STORE         the face store: a datafile or postgres://host/db[?schema=name]
  --on-duplicate P      a face closer than ${ENROL.duplicateThreshold.default} to an enrolled person: ${choicesText(ENROL.duplicatePolicy)}
  --on-existing P       an id that exists: refuse (default: reported as duplicate), add-sample, update
  --largest             use the largest face of photos showing several
  --min-face-size PX    smallest accepted face ${defaultText(ENROL.minFaceSize)}
  --backend B           ${choicesText(ENGINE.backend)}
Prints one JSON line per row {"row", "status": "enrolled"|"duplicate"|"refused", "id", "name", "reason"}
and a last line {"summary": {...}}. Exit code: 0 nothing refused, 1 some rows refused, 2 usage, 3 store in use.`;

export function run(args: string[]): Promise<number> {
  return runCommand('import', HELP, async () => {
    const { values, positionals } = parse(args, {
      store: { type: 'string' },
      'on-duplicate': { type: 'string' },
      'on-existing': { type: 'string' },
      largest: { type: 'boolean' },
      'min-face-size': { type: 'string' },
      backend: { type: 'string' },
    });
    if (!values.store) throw new UsageError('--store is required');
    if (positionals.length !== 1) throw new UsageError('give exactly one SOURCE');
    const enrol = {
      ...enrolPolicies(values, 'refuse'),
      faces: values.largest ? ('largest' as const) : ('single' as const),
      minFaceSize: numberOption(values['min-face-size'], 'min-face-size', ENROL.minFaceSize),
    };
    const source = positionals[0];
    const kind = await detectKind(source);
    return withStore(values.store, 'import', async (store) => {
      const importWith = async (engine: CliEngine | null): Promise<number> => {
        const report = await importSource(store, engine, source, { enrol, onRow: (row) => printJson(row) });
        const { enrolled, duplicate, refused } = report;
        printJson({ summary: { kind: report.kind, enrolled, duplicate, refused } });
        return refused ? EXIT.failed : EXIT.ok;
      };
      // A FaceWatch export carries its descriptors: no engine needed.
      return kind === 'export' ? importWith(null) : withEngine({ backend: values.backend }, importWith);
    });
  });
}
