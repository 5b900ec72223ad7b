/**
 * `facewatch eval`: recognition accuracy on labelled photos (see lib/store/evaluate.ts).
 */
import { readFile } from 'node:fs/promises';
import {
  EXIT,
  numberOption,
  parse,
  printJson,
  runCommand,
  startEngine,
  UsageError,
} from '../../lib/store/cli-support';
import { evaluate, readLabels } from '../../lib/store/evaluate';
import { parseCsv } from '../../lib/store/import';

export const usage =
  'eval --root DIR --enrol LABELS.csv [--impostors LABELS.csv] [--threshold T]   measure recognition';

const HELP = `usage: facewatch ${usage}

  --root DIR            folder the label paths are relative to
  --enrol LABELS.csv    path,identity rows: each identity's first photo (by path) with a face is
                        enrolled, its other photos are probes that must be recognised
  --impostors LABELS    path,identity rows of people not enrolled: each must come back unknown (repeatable)
                        (paths not found under --root are tried beside the labels file)
  --threshold T         match threshold (default 0.6); --margin M ambiguity margin (default 0.05)
  --exclude FILE        a CSV whose first column lists paths to leave out (e.g. duplicates.csv); repeatable
  --store FILE          keep the evaluation store here instead of a temporary one
  --verbose             also print one JSON line per photo before the result
Prints one JSON object: {"enrolled", "probes", "correct", "wrong_person", "false_reject",
"impostor_probes", "false_accept", "no_face", "threshold"}.`;

export function run(args: string[]): Promise<number> {
  return runCommand('eval', HELP, async () => {
    const { values } = parse(args, {
      root: { type: 'string' },
      enrol: { type: 'string' },
      impostors: { type: 'string', multiple: true },
      threshold: { type: 'string' },
      margin: { type: 'string' },
      exclude: { type: 'string', multiple: true },
      store: { type: 'string' },
      verbose: { type: 'boolean' },
      backend: { type: 'string' },
    });
    if (!values.root || !values.enrol) throw new UsageError('--root and --enrol are required');
    const exclude = new Set<string>();
    for (const f of values.exclude ?? []) {
      for (const { fields } of parseCsv(await readFile(f, 'utf8')))
        if (fields[0]) exclude.add(fields[0].trim());
    }
    const enrol = await readLabels(values.enrol, values.root, exclude);
    const impostors = [];
    for (const file of values.impostors ?? [])
      impostors.push(...(await readLabels(file, values.root, exclude)));
    const engine = await startEngine({ backend: values.backend });
    try {
      const { result, details } = await evaluate(engine, enrol, impostors, {
        threshold: numberOption(values.threshold, 'threshold', 0.6),
        margin: numberOption(values.margin, 'margin', 0.05),
        storeFile: values.store,
      });
      if (values.verbose) for (const d of details) printJson(d);
      printJson(result);
    } finally {
      await engine.close();
    }
    return EXIT.ok;
  });
}
