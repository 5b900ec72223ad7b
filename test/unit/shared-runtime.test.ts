import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_DETECT_OPTIONS } from '../../lib/types';
import { engineConfig } from '../../nodes/face-engine/config';
import { translator } from '../../nodes/shared/i18n';
import type { Node, NodeAPI } from '../../nodes/shared/red';
import { optionalNumber } from '../../nodes/shared/settings';
import { Status, errorText } from '../../nodes/shared/status';

/** Records what a node shows, as the editor would receive it. */
function recorder(): { node: Node; shown: unknown[] } {
  const shown: unknown[] = [];
  return { node: { status: (s: unknown) => shown.push(s) } as unknown as Node, shown };
}

const catalog: Record<string, string> = { 'face-x.status.ready': 'ready (__backend__)' };
const RED = {
  _: (key: string, subs?: Record<string, string>) =>
    (catalog[key] ?? key).replace(/__(\w+)__/g, (_m, k: string) => subs?.[k] ?? ''),
} as unknown as NodeAPI;

describe('Status', () => {
  it('maps kinds to fixed colours and shapes and translates keys', () => {
    const { node, shown } = recorder();
    const s = new Status(node, translator(RED, 'face-x'));
    s.set('ok', 'status.ready', { backend: 'wasm' });
    s.raw('warn', 'slow');
    s.raw('error', 'broken');
    s.raw('busy', 'working');
    assert.deepEqual(shown, [
      { fill: 'green', shape: 'dot', text: 'ready (wasm)' },
      { fill: 'yellow', shape: 'ring', text: 'slow' },
      { fill: 'red', shape: 'ring', text: 'broken' },
      { fill: 'blue', shape: 'dot', text: 'working' },
    ]);
  });

  it('does not resend an identical status, clips long texts, clears', () => {
    const { node, shown } = recorder();
    const s = new Status(node, translator(RED, 'face-x'));
    s.raw('ok', 'same');
    s.raw('ok', 'same');
    s.raw('ok', 'x'.repeat(200));
    s.clear();
    s.raw('ok', 'same');
    assert.equal(shown.length, 4);
    assert.equal((shown[1] as { text: string }).text.length, 64);
    assert.deepEqual(shown[2], {});
  });

  it('shows only an error message, never a stack', () => {
    const { node, shown } = recorder();
    const s = new Status(node, translator(RED, 'face-x'));
    s.error(new Error('camera unreachable'));
    assert.deepEqual(shown, [{ fill: 'red', shape: 'ring', text: 'camera unreachable' }]);
    assert.equal(errorText('plain'), 'plain');
    assert.equal(errorText({ weird: true }), 'unknown error');
  });
});

describe('translator', () => {
  it('prefixes the node type and falls back to the key with its values when a text is missing', () => {
    const t = translator(RED, 'face-x');
    assert.equal(t('status.ready', { backend: 'cpu' }), 'ready (cpu)');
    assert.equal(t('status.missing'), 'status.missing');
    assert.equal(t('status.missing', { n: 3 }), 'status.missing n=3');
  });
});

describe('node settings', () => {
  it('reads numbers from the editor, empty inputs as absent', () => {
    assert.equal(optionalNumber(''), undefined);
    assert.equal(optionalNumber('0.45'), 0.45);
    assert.equal(optionalNumber(7), 7);
    assert.equal(optionalNumber('seven'), undefined);
    assert.equal(optionalNumber(true), undefined);
  });

  it('turns face-engine settings into an engine configuration with the library defaults', () => {
    assert.deepEqual(engineConfig({ backend: 'wasm', poolSize: '', modelPath: ' ', minConfidence: '0.7' }), {
      backend: 'wasm',
      poolSize: undefined,
      modelPath: undefined,
      defaults: {
        detector: DEFAULT_DETECT_OPTIONS.detector,
        inputSize: DEFAULT_DETECT_OPTIONS.inputSize,
        minConfidence: 0.7,
        minFaceSize: DEFAULT_DETECT_OPTIONS.minFaceSize,
        maxDimension: DEFAULT_DETECT_OPTIONS.maxDimension,
      },
    });
    assert.equal(engineConfig({ poolSize: 2 }).poolSize, 2);
  });
});
