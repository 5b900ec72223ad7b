/**
 * CropFolder: the per-key image folder of the face store (and of the detection log's snapshots).
 * Real files in a temporary folder.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CropFolder } from '../../lib/store/crops';

let tmp = '';
let n = 0;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fw-crops-'));
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A CropFolder whose root does not exist yet, inside a fresh folder. */
function fresh(): { parent: string; crops: CropFolder } {
  const parent = path.join(tmp, `case-${++n}`);
  mkdirSync(parent);
  return { parent, crops: new CropFolder(path.join(parent, 'faces')) };
}

const mode = (file: string): string => (statSync(file).mode & 0o777).toString(8);

describe('CropFolder', () => {
  it('writes, reads and removes files under <root>/<key>/<name>', async () => {
    const { crops } = fresh();
    const file = await crops.write('PERSON_0001', 'a.jpg', Buffer.from('crop a'));
    assert.equal(file, path.join(crops.root, 'PERSON_0001', 'a.jpg'));
    assert.equal(file, crops.path('PERSON_0001', 'a.jpg'));
    assert.equal(crops.relative('PERSON_0001', 'a.jpg'), 'PERSON_0001/a.jpg');
    assert.equal(crops.resolve('PERSON_0001/a.jpg'), file);
    assert.equal(readFileSync(file, 'utf8'), 'crop a');
    assert.equal((await crops.read('PERSON_0001', 'a.jpg')).toString(), 'crop a');
    await crops.write('PERSON_0001', 'b.jpg', Buffer.from('crop b'));
    // Overwriting replaces the whole file; no temporary file stays behind.
    await crops.write('PERSON_0001', 'a.jpg', Buffer.from('A'));
    assert.equal(readFileSync(file, 'utf8'), 'A');
    assert.deepEqual(readdirSync(path.join(crops.root, 'PERSON_0001')).sort(), ['a.jpg', 'b.jpg']);

    await crops.remove('PERSON_0001', 'a.jpg');
    assert.equal(existsSync(file), false);
    assert.ok(existsSync(path.join(crops.root, 'PERSON_0001')), 'the key folder stays while it holds files');
    await crops.remove('PERSON_0001', 'a.jpg'); // missing: not an error
    await crops.remove('PERSON_0001', 'b.jpg');
    assert.equal(existsSync(path.join(crops.root, 'PERSON_0001')), false, 'an emptied key folder goes');
    await assert.rejects(crops.read('PERSON_0001', 'b.jpg'), /ENOENT/);

    await crops.write('PERSON_0002', 'c.jpg', Buffer.from('c'));
    await crops.write('PERSON_0002', 'd.jpg', Buffer.from('d'));
    await crops.write('PERSON_0003', 'e.jpg', Buffer.from('e'));
    await crops.removeKey('PERSON_0002');
    assert.deepEqual(readdirSync(crops.root), ['PERSON_0003']);
    await crops.removeKey('PERSON_0002'); // missing: not an error
  });

  it('keeps files private: 0600 files in 0700 folders, or the modes it is given', async () => {
    const { crops } = fresh();
    const file = await crops.write('k1', 'x.jpg', Buffer.from('x'));
    assert.deepEqual([file, path.dirname(file), crops.root].map(mode), ['600', '700', '700']);

    const { parent } = fresh();
    const shared = new CropFolder(path.join(parent, 'snapshots'), { fileMode: 0o640, dirMode: 0o750 });
    const f2 = await shared.write('event-1', '0.jpg', Buffer.from('y'));
    assert.deepEqual([f2, path.dirname(f2)].map(mode), ['640', '750']);
  });

  it('refuses keys and names that could leave the root', async () => {
    const { parent, crops } = fresh();
    const bad = [
      '..',
      '../x',
      'a/b',
      'a\\b',
      '',
      '.',
      '.hidden',
      '-rf',
      '/etc',
      'a..b',
      'x'.repeat(129),
      'a b',
    ];
    for (const key of bad) {
      assert.throws(() => crops.path(key, 'a.jpg'), RangeError, `key ${JSON.stringify(key)}`);
      assert.throws(() => crops.relative('k', key), RangeError, `name ${JSON.stringify(key)}`);
      await assert.rejects(crops.write(key, 'a.jpg', Buffer.from('x')), RangeError);
      await assert.rejects(crops.write('k', key, Buffer.from('x')), RangeError);
      await assert.rejects(crops.remove(key, 'a.jpg'), RangeError);
      await assert.rejects(crops.removeKey(key), RangeError);
    }
    assert.deepEqual(readdirSync(parent), [], 'nothing was written, not even the root');

    // Relative paths read back from a document are checked too.
    for (const rel of [
      '../faces.db',
      'k/../../x.jpg',
      'k/a/b.jpg',
      '/etc/passwd',
      'k',
      'k/',
      '..\\x/a.jpg',
    ]) {
      assert.equal(crops.parse(rel), null, rel);
      assert.equal(crops.resolve(rel), null, rel);
    }
    assert.deepEqual(crops.parse('PERSON_0001/0123abcd.jpg'), { key: 'PERSON_0001', name: '0123abcd.jpg' });
  });

  it('leaves neither a temporary file nor an empty key folder after a failed write', async () => {
    const { crops } = fresh();
    await assert.rejects(crops.write('k', 'a.jpg', 42 as unknown as Buffer));
    assert.equal(existsSync(path.join(crops.root, 'k')), false);

    // The target is a folder: the rename fails after the temporary file was written.
    mkdirSync(path.join(crops.root, 'k', 'b.jpg'), { recursive: true });
    writeFileSync(path.join(crops.root, 'k', 'b.jpg', 'inside'), '');
    await assert.rejects(crops.write('k', 'b.jpg', Buffer.from('x')));
    assert.deepEqual(readdirSync(path.join(crops.root, 'k')), ['b.jpg']);
  });

  it('lists files oldest first and sums their size, for retention', async () => {
    const { crops } = fresh();
    assert.deepEqual(await crops.list(), [], 'a missing root lists nothing');
    assert.equal(await crops.size(), 0);

    await crops.write('e2', 'b.jpg', Buffer.alloc(20));
    await crops.write('e1', 'a.jpg', Buffer.alloc(10));
    await crops.write('e1', 'c.jpg', Buffer.alloc(5));
    const at = (key: string, name: string, seconds: number): void =>
      utimesSync(crops.path(key, name), seconds, seconds);
    at('e2', 'b.jpg', 1000);
    at('e1', 'a.jpg', 2000);
    at('e1', 'c.jpg', 3000);
    // Neither a file being written nor a stray name is reported.
    writeFileSync(path.join(crops.root, 'e1', 'd.jpg.tmp'), 'partial');
    writeFileSync(path.join(crops.root, 'e1', '.DS_Store'), 'x');
    writeFileSync(path.join(crops.root, 'loose.jpg'), 'x');

    const all = await crops.list();
    assert.deepEqual(
      all.map((e) => [e.key, e.name, e.size]),
      [
        ['e2', 'b.jpg', 20],
        ['e1', 'a.jpg', 10],
        ['e1', 'c.jpg', 5],
      ],
    );
    assert.equal(all[0].file, crops.path('e2', 'b.jpg'));
    assert.equal(all[0].mtime.getTime(), 1000 * 1000);
    assert.deepEqual(
      (await crops.list('e1')).map((e) => e.name),
      ['a.jpg', 'c.jpg'],
    );
    assert.deepEqual(await crops.list('nothing-here'), []);
    assert.equal(await crops.size(), 35);
    assert.equal(await crops.size('e1'), 15);

    // Retention: drop the oldest until under a budget.
    for (const e of await crops.list()) {
      if ((await crops.size()) <= 15) break;
      await crops.remove(e.key, e.name);
    }
    assert.deepEqual(readdirSync(crops.root).sort(), ['e1', 'loose.jpg']);
  });
});
