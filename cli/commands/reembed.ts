/**
 * `facewatch reembed`: recomputes every sample's descriptor from its stored face crop with the
 * engine's current recognition model, and moves the store to that model. All or nothing.
 */
import { ENGINE } from '../../lib/types/defaults';
import {
  choicesText,
  EXIT,
  parse,
  printJson,
  runCommand,
  UsageError,
  withEngine,
  openCliDatafile,
  closeCliStore,
} from '../support';

export const usage =
  'reembed --store FILE [--drop-failed] [--backend B]   recompute descriptors with the current model';

const HELP = `usage: facewatch ${usage}

  --store FILE     the face store datafile
  --drop-failed    remove (and erase) samples whose crop is missing or shows no face; without it,
                   nothing changes when any sample fails, and the failures are listed
  --backend B      ${choicesText(ENGINE.backend)}
Prints {"from", "to", "samples", "failed": [...]}. Exit code: 0 done, 1 samples failed, 2 usage, 3 store in use.`;

export function run(args: string[]): Promise<number> {
  return runCommand('reembed', HELP, async () => {
    const { values } = parse(args, {
      store: { type: 'string' },
      'drop-failed': { type: 'boolean' },
      backend: { type: 'string' },
    });
    if (!values.store) throw new UsageError('--store is required');
    const store = await openCliDatafile(values.store, 'reembed');
    try {
      return await withEngine({ backend: values.backend }, async (engine) => {
        const from = store.modelId;
        const result = await store.reembed(
          async (crop) => {
            // Crops are tight around the face: take the largest face, whatever its size.
            const r = await engine.detect(crop, { descriptors: true, minFaceSize: 0 });
            const face = [...r.faces].sort(
              (a, b) => b.box.width * b.box.height - a.box.width * a.box.height,
            )[0];
            return face?.descriptor ? { descriptor: face.descriptor, modelId: face.modelId } : null;
          },
          { dropFailed: values['drop-failed'] === true },
        );
        printJson({ from, to: result.modelId, samples: result.samples, failed: result.failed });
        return result.failed.length && !values['drop-failed'] ? EXIT.failed : EXIT.ok;
      });
    } finally {
      await closeCliStore(store);
    }
  });
}
