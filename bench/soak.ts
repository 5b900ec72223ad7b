/**
 * `npm run soak [-- --minutes N]` (also `npm run bench -- soak`): FaceWatch's example pipeline with 8
 * cameras for N minutes (default 60) under scheduled faults, measured once a minute; see
 * test/helpers/soak.ts for what runs, what is injected and what is measured, and README
 * "Performance" for the figures. Writes bench/results/soak.json with each target's pass or fail;
 * exits with 1 when a target failed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hourSchedule, runSoak, type SoakReport } from '../test/helpers/soak';

/** `--minutes N` (or `--minutes=N`) from the command line, else SOAK_MINUTES, else 60. */
function minutesArg(argv: string[]): number {
  let text = process.env.SOAK_MINUTES;
  argv.forEach((a, i) => {
    if (a === '--minutes') text = argv[i + 1];
    else if (a.startsWith('--minutes=')) text = a.slice('--minutes='.length);
  });
  const minutes = Number(text ?? 60);
  if (!Number.isInteger(minutes) || minutes < 1)
    throw new Error(`--minutes must be a whole number ≥ 1, not ${text}`);
  return minutes;
}

export async function run(): Promise<SoakReport> {
  const minutes = minutesArg(process.argv.slice(2));
  const report = await runSoak({
    schedule: hourSchedule(minutes),
    log: (line) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
  });
  const outDir = path.join(__dirname, 'results');
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'soak.json'), JSON.stringify(report, null, 2) + '\n');
  for (const [name, t] of Object.entries(report.targets))
    process.stdout.write(
      `${t.pass === null ? 'n/a ' : t.pass ? 'pass' : 'FAIL'}  ${name}: ${JSON.stringify(t.value)}${t.limit ? ` (${t.limit})` : ''}\n`,
    );
  process.stdout.write(`soak ${report.pass ? 'passed' : 'FAILED'}: bench/results/soak.json\n`);
  if (!report.pass) process.exitCode = 1;
  return report;
}

if (require.main === module)
  run().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
