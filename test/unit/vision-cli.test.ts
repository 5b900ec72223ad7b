/**
 * `facewatch detect` as a user runs it: a real process, real models, real files.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, faceApiSample, fixturePath } from '../helpers/env';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function facewatch(...args: string[]): Promise<Run> {
  return facewatchWith({}, ...args);
}

function facewatchWith(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'cli', 'facewatch.ts'), ...args],
      { cwd: ROOT, timeout: 120_000, env: { ...process.env, FACEWATCH_BACKEND: '', ...env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('facewatch detect', () => {
  it('prints one JSON line per readable file and names each unreadable one, exit code 1', async () => {
    const missing = path.join(ROOT, 'no-such-photo.jpg');
    const text = fixturePath('face_recognition/LICENSE');
    const noFace = fixturePath('face-api.js/test/images/white.png');
    const run = await facewatch('detect', '--descriptors', faceApiSample(1), missing, text, noFace);
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 2);
    const [photo, empty] = lines as Array<{
      file: string;
      width: number;
      height: number;
      faces: Array<{ box: unknown; descriptor?: number[]; modelId: string }>;
    }>;
    assert.equal(photo.file, faceApiSample(1));
    assert.deepEqual([photo.width, photo.height], [1920, 1280]);
    assert.ok(photo.faces.length >= 1);
    for (const f of photo.faces) {
      assert.equal(f.descriptor?.length, 128);
      assert.match(f.modelId, /^frnet-/);
    }
    assert.deepEqual(empty, { file: noFace, width: 150, height: 150, faces: [] });
    assert.match(run.stderr, new RegExp(`${missing.replace(/[.]/g, '\\.')}: cannot read: no such file`));
    assert.match(run.stderr, /LICENSE: not an image: expected JPEG, PNG or WebP/);
  });

  it('leaves descriptors out unless asked, and exits 0 when every file was read', async () => {
    const run = await facewatch('detect', '--detector', 'tiny', '--landmarks', faceApiSample(3));
    assert.equal(run.code, 0, run.stderr);
    const line = JSON.parse(run.stdout) as { faces: Array<{ descriptor?: unknown; landmarks?: unknown[] }> };
    assert.ok(line.faces.length >= 1);
    for (const f of line.faces) {
      assert.equal(f.descriptor, undefined);
      assert.equal(f.landmarks?.length, 68);
    }
  });

  it('explains bad usage with exit code 2', async () => {
    const none = await facewatch('detect');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no image file given/);
    const bad = await facewatch('detect', '--min-confidence', 'high', faceApiSample(1));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--min-confidence must be a number, not "high"/);
    const outside = await facewatch('detect', '--input-size', '300', faceApiSample(1));
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /--input-size must be a multiple of 32 from 128 to 608, not 300/);
    const help = await facewatch('detect', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: facewatch detect/);
  });

  it('loads the weights from FACEWATCH_MODEL_PATH when set, and names a folder without them', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fw-models-'));
    try {
      const missing = await facewatchWith({ FACEWATCH_MODEL_PATH: dir }, 'detect', faceApiSample(1));
      // A configuration that cannot work is a usage error (exit code 2), like a bad option.
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, new RegExp(`model file not found: ${dir.replace(/[.]/g, '\\.')}/`));
      cpSync(path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model'), dir, {
        recursive: true,
      });
      const found = await facewatchWith({ FACEWATCH_MODEL_PATH: dir }, 'detect', faceApiSample(1));
      assert.equal(found.code, 0, found.stderr);
      assert.ok((JSON.parse(found.stdout) as { faces: unknown[] }).faces.length >= 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
