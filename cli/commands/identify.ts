/**
 * `facewatch identify`: finds the faces in photos and prints, per face, the match object that the
 * face-match node adds to msg.faces.
 */
import { readFile } from 'node:fs/promises';
import { ENGINE, MATCH } from '../../lib/types/defaults';
import {
  choiceOption,
  choicesText,
  defaultText,
  eachFile,
  numberOption,
  parse,
  printJson,
  runCommand,
  UsageError,
  withEngine,
  withStore,
} from '../support';

export const usage =
  'identify --store STORE [--threshold T] [--margin M] [--candidates K] PHOTO...   who is in these photos';

const HELP = `usage: facewatch ${usage}

  --store STORE     the face store: a datafile or postgres://host/db[?schema=name]
  --threshold T     euclidean distance under which a face is a person ${defaultText(MATCH.threshold)}
  --margin M        ambiguity margin between the two nearest people ${defaultText(MATCH.margin, 'off')}
  --candidates K    candidates listed per face ${defaultText(MATCH.candidates)}
  --rule R          compare with each person's ${choicesText(MATCH.rule)} sample
  --backend B       ${choicesText(ENGINE.backend)}
Prints one JSON line per face: {"file", "face", "box", "score", "match": {known, person, distance,
confidence, ambiguous, candidates}}; a photo without faces prints {"file", "faces": 0}.
Exit code: 0 done, 1 a photo could not be read, 2 usage, 3 the store is in use.`;

export function run(args: string[]): Promise<number> {
  return runCommand('identify', HELP, async () => {
    const { values, positionals } = parse(args, {
      store: { type: 'string' },
      threshold: { type: 'string' },
      margin: { type: 'string' },
      candidates: { type: 'string' },
      rule: { type: 'string' },
      backend: { type: 'string' },
    });
    if (!values.store) throw new UsageError('--store is required');
    if (!positionals.length) throw new UsageError('give at least one PHOTO');
    const opts = {
      threshold: numberOption(values.threshold, 'threshold', MATCH.threshold),
      margin: numberOption(values.margin, 'margin', MATCH.margin),
      k: numberOption(values.candidates, 'candidates', MATCH.candidates),
      rule: choiceOption(values.rule, 'rule', MATCH.rule),
    };
    return withStore(values.store, 'identify', (store) =>
      withEngine({ backend: values.backend, poolSize: 1 }, (engine) =>
        eachFile(positionals, async (file) => {
          const r = await engine.detect(await readFile(file), { descriptors: true });
          if (!r.faces.length) printJson({ file, faces: 0 });
          for (const [i, face] of r.faces.entries()) {
            const match = face.descriptor
              ? await store.matchAsync(face.descriptor, face.modelId, opts)
              : null;
            printJson({ file, face: i, box: face.box, score: face.score, match });
          }
        }),
      ),
    );
  });
}
