/**
 * Shared by the store tests that run the store in several processes (store-erasure,
 * store-faults): deterministic descriptors, marked crops and a grep over a folder.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { mulberry32 } from '../../lib/shared/random';

export const MODEL = 'test-model-1';
export const DIM = 128;

/** A deterministic pseudo-random unit vector (mulberry32), so failures are reproducible. */
export function unitVector(seed: number): Float32Array {
  const random = mulberry32(seed);
  const next = (): number => random() - 0.5;
  const v = new Float32Array(DIM);
  let s = 0;
  for (let i = 0; i < DIM; i++) {
    v[i] = next();
    s += v[i] * v[i];
  }
  const n = Math.sqrt(s);
  for (let i = 0; i < DIM; i++) v[i] /= n;
  return v;
}

/** Bytes standing for a JPEG crop (the store does not decode them), marked so a grep finds them. */
export function jpegish(tag: string): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(`crop-of-${tag}`)]);
}

/** Every file under dir (recursively) with its bytes as latin1 text; unreadable entries are skipped. */
export function allFiles(dir: string): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const s = statSync(full);
    if (s.isDirectory()) out.push(...allFiles(full));
    else if (s.isFile()) out.push({ file: full, text: readFileSync(full).toString('latin1') });
  }
  return out;
}

/** The files under dir whose bytes contain any of the needles, with the needle found. */
export function filesContaining(dir: string, needles: string[]): string[] {
  return allFiles(dir).flatMap((f) =>
    needles.filter((n) => f.text.includes(n)).map((n) => `${path.relative(dir, f.file)}: ${n.slice(0, 40)}`),
  );
}
