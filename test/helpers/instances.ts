/**
 * Node-RED instances sharing a face store on PostgreSQL, as the end-to-end tests run them: each
 * instance's flow, and showing it a photo.
 */
import assert from 'node:assert/strict';
import type { RunningNodeRed } from './nodered';

/** What an instance's flow has besides the shared store. */
export interface InstanceFlowOptions {
  /** The camera its photos are events of (`msg.frame.camera`); without it, `photo`. */
  camera?: string;
  /** A face-mqtt publishing its events (Home Assistant discovery on). */
  mqtt?: { url: string; baseTopic: string; discoveryPrefix: string; presenceTimeout: number };
}

/**
 * An instance's flow: the face store on PostgreSQL at `url` (schema facewatch), and POST /t/who
 * answering who face-match names in a photo, the photo's faces recorded as events in the shared
 * detection log (with snapshots) and, with `mqtt`, published.
 */
export function instanceFlow(url: string, opts: InstanceFlowOptions = {}): object[] {
  const flow: object[] = [
    { id: 'tab', type: 'tab', label: 'instances' },
    { id: 'eng', type: 'face-engine', backend: 'wasm', poolSize: 1, detector: 'ssd', minConfidence: 0.5 },
    {
      id: 'st',
      type: 'face-store',
      name: 'shared',
      backend: 'postgres',
      url,
      schema: 'facewatch',
      poolSize: 4,
    },
    { id: 'in', type: 'http in', z: 'tab', url: '/t/who', method: 'post', wires: [['fd']] },
    { id: 'fd', type: 'face-detect', z: 'tab', engine: 'eng', descriptors: true, wires: [['fm']] },
    { id: 'fm', type: 'face-match', z: 'tab', store: 'st', wires: [['out', opts.camera ? 'cam' : 'dl']] },
    { id: 'out', type: 'http response', z: 'tab' },
    {
      id: 'dl',
      type: 'detection-log',
      z: 'tab',
      store: 'st',
      snapshots: true,
      wires: [opts.mqtt ? ['mq'] : []],
    },
  ];
  if (opts.camera)
    flow.push({
      id: 'cam',
      type: 'change',
      z: 'tab',
      rules: [{ t: 'set', p: 'frame.camera', pt: 'msg', to: opts.camera, tot: 'str' }],
      wires: [['dl']],
    });
  if (opts.mqtt)
    flow.push(
      {
        id: 'brk',
        type: 'face-mqtt-broker',
        name: 'broker',
        url: opts.mqtt.url,
        baseTopic: opts.mqtt.baseTopic,
        discoveryPrefix: opts.mqtt.discoveryPrefix,
        discovery: true,
        qos: 1,
      },
      {
        id: 'mq',
        type: 'face-mqtt',
        z: 'tab',
        broker: 'brk',
        store: 'st',
        presenceTimeout: opts.mqtt.presenceTimeout,
      },
    );
  return flow;
}

/** Shows an instance a photo: the names face-match gives its faces. */
export async function who(nr: RunningNodeRed, photo: Buffer): Promise<string[]> {
  const res = await fetch(`${nr.url}/t/who`, {
    method: 'POST',
    body: photo as unknown as BodyInit,
    headers: { 'content-type': 'image/jpeg' },
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return (JSON.parse(text) as { known: string[] }).known;
}

/** A request to an instance's Face Library API; `json` is sent as a JSON body. */
export function api(
  nr: RunningNodeRed,
  route: string,
  init: RequestInit & { json?: unknown } = {},
): Promise<Response> {
  const { json, ...rest } = init;
  return fetch(
    `${nr.url}/facewatch/api/${route}`,
    json === undefined
      ? rest
      : { ...rest, body: JSON.stringify(json), headers: { 'content-type': 'application/json' } },
  );
}

/** Enrols a person from a photo through an instance's Face Library API; resolves to their id. */
export async function enrolThrough(nr: RunningNodeRed, name: string, photo: Buffer): Promise<string> {
  const res = await api(nr, `register?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    body: photo as unknown as BodyInit,
    headers: { 'content-type': 'image/jpeg' },
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return (JSON.parse(text) as { person: { id: string } }).person.id;
}
