/**
 * Home Assistant MQTT discovery: the retained config messages that make Home Assistant create
 * FaceWatch's entities. Per person: a presence binary_sensor and a sensor with the camera they were
 * last seen at. Per camera: a sensor with the last recognised name and one with the count of known
 * faces in view. Each config carries a device, a `unique_id` and the availability topic, so the
 * entities go unavailable when FaceWatch does. A person's id and a camera's name reach an object_id
 * through {@link objectId}, so two that differ only in characters Home Assistant refuses (`a.b`,
 * `a_b`) keep entities of their own.
 */
import { objectId, plainObjectId, type Topics } from './topics';

/** A discovery config: where it is published (retained) and what. */
export interface DiscoveryConfig {
  topic: string;
  payload: Record<string, unknown>;
}

/** What every config shares. */
export interface DiscoveryContext {
  /** Home Assistant's discovery prefix (`homeassistant`). */
  prefix: string;
  topics: Topics;
  /** Seconds after the last sighting before presence turns off. */
  presenceTimeout: number;
}

const ONLINE = 'online';
const OFFLINE = 'offline';

function common(ctx: DiscoveryContext): Record<string, unknown> {
  return {
    availability_topic: ctx.topics.available,
    payload_available: ONLINE,
    payload_not_available: OFFLINE,
  };
}

/**
 * The node id of every FaceWatch discovery topic: the base, made HA-safe. The base is configured,
 * not a name from data, so it keeps the form it always had (no hash), and no entity is renamed.
 */
function nodeId(ctx: DiscoveryContext): string {
  return `facewatch_${plainObjectId(ctx.topics.base)}`;
}

function config(
  ctx: DiscoveryContext,
  component: 'binary_sensor' | 'sensor',
  object: string,
  payload: Record<string, unknown>,
): DiscoveryConfig {
  const id = `${nodeId(ctx)}_${object}`;
  return {
    topic: `${ctx.prefix}/${component}/${nodeId(ctx)}/${object}/config`,
    payload: { ...payload, unique_id: id, object_id: id, ...common(ctx) },
  };
}

function personDevice(ctx: DiscoveryContext, person: { id: string; name: string }): Record<string, unknown> {
  return {
    identifiers: [`${nodeId(ctx)}_person_${objectId(person.id)}`],
    name: person.name,
    manufacturer: 'FaceWatch',
    model: 'Enrolled person',
  };
}

function cameraDevice(ctx: DiscoveryContext, camera: string): Record<string, unknown> {
  return {
    identifiers: [`${nodeId(ctx)}_camera_${objectId(camera)}`],
    name: `FaceWatch ${camera}`,
    manufacturer: 'FaceWatch',
    model: 'Camera',
  };
}

/** A person's two entities: presence (binary_sensor, occupancy) and the last camera (sensor). */
export function personConfigs(
  ctx: DiscoveryContext,
  person: { id: string; name: string },
): DiscoveryConfig[] {
  const pid = `person_${objectId(person.id)}`;
  const state = ctx.topics.person(person.id);
  const device = personDevice(ctx, person);
  return [
    config(ctx, 'binary_sensor', `${pid}_presence`, {
      name: 'Presence',
      device_class: 'occupancy',
      state_topic: state,
      value_template: "{{ 'ON' if value_json.present else 'OFF' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      // FaceWatch turns it off itself; off_delay covers a FaceWatch that stopped meanwhile.
      off_delay: ctx.presenceTimeout,
      json_attributes_topic: state,
      device,
    }),
    config(ctx, 'sensor', `${pid}_camera`, {
      name: 'Last camera',
      icon: 'mdi:cctv',
      state_topic: state,
      value_template: '{{ value_json.camera }}',
      json_attributes_topic: state,
      device,
    }),
  ];
}

/**
 * A camera's three entities: the last recognised name, the count of known faces in view, and the
 * recurring visitors (unknown faces told apart) seen there today.
 */
export function cameraConfigs(ctx: DiscoveryContext, camera: string): DiscoveryConfig[] {
  const cid = `camera_${objectId(camera)}`;
  const state = ctx.topics.cameraPerson(camera);
  const device = cameraDevice(ctx, camera);
  return [
    config(ctx, 'sensor', `${cid}_last_person`, {
      name: 'Last recognised',
      icon: 'mdi:face-recognition',
      state_topic: state,
      value_template: '{{ value_json.last }}',
      json_attributes_topic: state,
      device,
    }),
    config(ctx, 'sensor', `${cid}_known_faces`, {
      name: 'Known faces in view',
      icon: 'mdi:account-group',
      state_topic: state,
      value_template: '{{ value_json.count }}',
      state_class: 'measurement',
      unit_of_measurement: 'faces',
      device,
    }),
    config(ctx, 'sensor', `${cid}_visitors_today`, {
      name: 'Visitors today',
      icon: 'mdi:account-question',
      state_topic: ctx.topics.cameraVisitors(camera),
      value_template: '{{ value_json.today }}',
      json_attributes_topic: ctx.topics.cameraVisitors(camera),
      state_class: 'measurement',
      unit_of_measurement: 'visitors',
      device,
    }),
  ];
}
