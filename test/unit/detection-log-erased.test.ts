/**
 * detection-log's last check before it sends: a person deleted while their frame was being recorded
 * (face-match named them before the deletion) gets no event out, and leaves the events of others
 * whose frame showed them, with the drawn picture held back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Recorded } from '../../lib/events/recorder';
import { sampleEvent } from '../helpers/sample-event';
import { withoutErased } from '../../nodes/detection-log/controller';

const ADA = { id: 'P1', name: 'Ada Lovelace' };
const BOB = { id: 'P2', name: 'Bob Bandicoot' };

function recorded(person: typeof ADA | null, shown: Array<typeof ADA | null>): Recorded {
  const e = sampleEvent(1, 'door');
  return {
    event: {
      ...e,
      known: !!person,
      person,
      faces: [person, ...shown].map((p) => ({ box: e.box, person: p })),
    },
    snapshot: Buffer.from('drawn'),
  };
}

describe('events of people erased while they were recorded', () => {
  it('are held back, and the others lose them from their faces and their drawn picture', () => {
    const frame = [recorded(ADA, [BOB]), recorded(BOB, [ADA]), recorded(null, [BOB])];
    const { kept, erased } = withoutErased(frame, (id) => id !== ADA.id);
    assert.deepEqual(erased, [ADA.id]);
    assert.deepEqual(
      kept.map((r) => r.event.person?.id ?? null),
      [BOB.id, null],
    );
    assert.deepEqual(
      kept[0].event.faces?.map((f) => f.person?.id),
      [BOB.id],
    );
    assert.equal(kept[0].snapshot, null, 'the picture showing her is not sent');
    assert.ok(kept[1].snapshot, "the unknown face's picture, which does not show her, is");
  });

  it('leave a frame of enrolled people as it is', () => {
    const frame = [recorded(ADA, [BOB]), recorded(BOB, [ADA])];
    const { kept, erased } = withoutErased(frame, () => true);
    assert.deepEqual(erased, []);
    assert.equal(kept[0], frame[0]);
    assert.equal(kept[1], frame[1]);
  });
});
