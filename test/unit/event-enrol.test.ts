/**
 * Enrolling from a detection event (lib/store/event-enrol.ts): a camera's face is enrolled with a
 * camera's checks (face-detect's minimum face size, the event confidence), and a tight crop gets a
 * dark border. Enrolling through the Face Library from a real event is in test/e2e/library-api.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { eventEnrolOptions, withBorder } from '../../lib/store/event-enrol';
import { DETECT, LIBRARY } from '../../lib/types/defaults';

describe('enrolment from an event', () => {
  it("caps the photo checks at a camera's: face-detect's minimum face size, the event confidence", () => {
    const o = eventEnrolOptions({ minFaceSize: 80, detect: { detector: 'ssd', minConfidence: 0.5 } });
    assert.equal(o.minFaceSize, DETECT.minFaceSize.default);
    assert.equal(o.detect?.minConfidence, LIBRARY.eventMinConfidence);
    assert.equal(o.detect?.detector, 'ssd', 'the photo detector is kept');
    // Lower checks than the caps stay as they are.
    const low = eventEnrolOptions({ minFaceSize: 20, detect: { minConfidence: 0.2 } });
    assert.equal(low.minFaceSize, 20);
    assert.equal(low.detect?.minConfidence, 0.2);
    // Nothing set: no minimum size, the event confidence.
    assert.deepEqual(eventEnrolOptions({}), {
      minFaceSize: 0,
      detect: { minConfidence: LIBRARY.eventMinConfidence },
    });
  });

  it('puts a black border of half its size on every side of a crop', async () => {
    const crop = await sharp({
      create: { width: 40, height: 60, channels: 3, background: { r: 200, g: 150, b: 100 } },
    })
      .jpeg()
      .toBuffer();
    const framed = await withBorder(crop);
    const { data, info } = await sharp(framed).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [80, 120]);
    const at = (x: number, y: number): number[] => [
      ...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3),
    ];
    assert.ok(
      at(2, 2).every((v) => v < 20),
      `the corner is dark: ${at(2, 2).join(',')}`,
    );
    assert.ok(at(40, 60)[0] > 170, `the middle is the crop: ${at(40, 60).join(',')}`);
  });
});
