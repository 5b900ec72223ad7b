/**
 * face-mqtt-broker's settings as a flow file gives them: Home Assistant discovery may be written as
 * text (`${FACEWATCH_HA_DISCOVERY}` in the example flow, which Node-RED replaces by the variable's
 * value, or leaves as written when the variable is unset).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { brokerSettings } from '../../nodes/face-mqtt-broker/config';

const discovery = (v: unknown): boolean | undefined =>
  brokerSettings({ url: 'mqtt://127.0.0.1:1883', discovery: v as boolean }, undefined).discovery;

describe('face-mqtt-broker discovery setting', () => {
  it('takes the checkbox as it is', () => {
    assert.equal(discovery(true), true);
    assert.equal(discovery(false), false);
  });

  it("reads a variable's value: false, 0, no and off turn it off; true, 1, yes and on turn it on", () => {
    for (const off of ['false', 'FALSE', ' 0 ', 'no', 'off']) assert.equal(discovery(off), false, off);
    for (const on of ['true', '1', 'yes', 'On']) assert.equal(discovery(on), true, on);
  });

  it('stays on (its default) when the variable is unset, empty or the setting is missing', () => {
    assert.equal(discovery('${FACEWATCH_HA_DISCOVERY}'), true);
    assert.equal(discovery(''), true);
    assert.equal(discovery(undefined), true);
  });
});
