/**
 * `facewatch eval`: recognition accuracy on labelled photos (see lib/eval/evaluate.ts).
 */
import { readFile } from 'node:fs/promises';
import { ENGINE, MATCH, type NumberLimit } from '../../lib/types/defaults';
import {
  choiceOption,
  choicesText,
  defaultText,
  EXIT,
  numberOption,
  parse,
  printJson,
  runCommand,
  startEngine,
  UsageError,
} from '../support';
import { evaluate, readLabels } from '../../lib/eval/evaluate';
import type { AcceptedFace } from '../../lib/store/enrol';
import { parseCsv } from '../../lib/store/import';

/** Photos enrolled per identity. */
const SAMPLES: NumberLimit = { default: 1, min: 1, max: 100, step: 1, integer: true };

export const usage =
  'eval --root DIR --enrol LABELS.csv [--impostors LABELS.csv] [--threshold T]   measure recognition';

const HELP = `usage: facewatch ${usage}

  --root DIR            folder the label paths are relative to
  --enrol LABELS.csv    path,identity rows: each identity's first photo (by path) with a face is
                        enrolled, its other photos are probes that must be recognised
  --impostors LABELS    path,identity rows of people not enrolled: each must come back unknown (repeatable)
                        (paths not found under --root are tried beside the labels file)
  --threshold T         match threshold ${defaultText(MATCH.threshold)}
  --margin M            ambiguity margin ${defaultText(MATCH.margin, 'off')}
  --samples N           enrol each identity's first N photos with a face (default 1); the rest are probes
  --rule R              compare with each person's ${choicesText(MATCH.rule)} sample
  --compare             side by side in one run: 1, 2 and 3 samples per identity, each by the nearest
                        sample and by the mean (the photos are described once); prints one JSON object
                        {"compare": [{samples, rule, enrolled, probes, correct, ...}, ...]}
  --exclude FILE        a CSV whose first column lists paths to leave out (e.g. duplicates.csv); repeatable
  --store FILE          keep the evaluation store here instead of a temporary one
  --verbose             also print one JSON line per photo before the result
  --backend B           ${choicesText(ENGINE.backend)}
Prints one JSON object: {"enrolled", "probes", "correct", "wrong_person", "false_reject",
"impostor_probes", "false_accept", "no_face", "closest_impostor", "closest_impostor_photo",
"threshold", "margin", "samples", "rule"}. closest_impostor is the distance of the impostor nearest to an enrolled
person: the safety margin when it is over the threshold.`;

export function run(args: string[]): Promise<number> {
  return runCommand('eval', HELP, async () => {
    const { values } = parse(args, {
      root: { type: 'string' },
      enrol: { type: 'string' },
      impostors: { type: 'string', multiple: true },
      threshold: { type: 'string' },
      margin: { type: 'string' },
      samples: { type: 'string' },
      rule: { type: 'string' },
      compare: { type: 'boolean' },
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
    const threshold = numberOption(values.threshold, 'threshold', MATCH.threshold);
    const margin = numberOption(values.margin, 'margin', MATCH.margin);
    const engine = await startEngine({ backend: values.backend });
    try {
      if (values.compare) {
        if (values.samples !== undefined || values.rule !== undefined || values.store !== undefined)
          throw new UsageError('--compare runs every --samples and --rule itself, on temporary stores');
        const cache = new Map<string, AcceptedFace | null>();
        const compare = [];
        for (const samples of [1, 2, 3])
          for (const rule of ['nearest', 'mean'] as const) {
            const { result } = await evaluate(engine, enrol, impostors, {
              threshold,
              margin,
              samples,
              rule,
              cache,
            });
            compare.push(result);
          }
        printJson({ compare });
        return EXIT.ok;
      }
      const { result, details } = await evaluate(engine, enrol, impostors, {
        threshold,
        margin,
        samples: numberOption(values.samples, 'samples', SAMPLES),
        rule: choiceOption(values.rule, 'rule', MATCH.rule),
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
