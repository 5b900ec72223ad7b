import { onVisitorGone } from '../../lib/events/store-events';
import { FaceMqtt } from '../../lib/mqtt/faces';
import type { MqttPublisher, PublisherState } from '../../lib/mqtt/publisher';
import type { Lease } from '../../lib/shared/owner';
import type { Election, OpenStore, Person } from '../../lib/store/types';
import type { DetectionEvent } from '../../lib/types/events';
import { reservedKeyProblem } from '../../lib/types/keys';
import type { StoreLease } from '../shared/store';
import type { Status } from '../shared/status';

/** What the controller needs from the node. */
export interface FaceMqttDeps {
  user: string;
  acquireBroker(): Promise<Lease<MqttPublisher>>;
  /** Undefined when no face-store is configured. */
  acquireStore?: () => Promise<StoreLease>;
  status: Status;
  snapshots: boolean;
  presenceTimeout: number;
  error(err: Error): void;
}

/** The longest camera name or person id put into a topic (MQTT allows 65535 bytes per topic). */
const MAX_TOPIC_PART = 1024;

/**
 * The event a message carries: `msg.event`, else `msg.payload` when it has an event's shape. The
 * fields face-mqtt reads are checked, and the event must be JSON (it is published as such). A
 * reserved camera name or person id or name (`__proto__`, `constructor`, `prototype`) is refused:
 * they key the retained state and the discovery entities.
 */
export function eventOf(msg: { event?: unknown; payload?: unknown }): DetectionEvent {
  const e = (msg.event ?? msg.payload) as Partial<Record<keyof DetectionEvent, unknown>> | undefined;
  if (!e || typeof e !== 'object' || typeof e.camera !== 'string' || typeof e.id !== 'string')
    throw new Error('msg.event is not a detection event (wire face-mqtt after detection-log)');
  const p = e.person as { id?: unknown; name?: unknown } | null | undefined;
  if (
    typeof e.known !== 'boolean' ||
    typeof e.time !== 'string' ||
    !(
      p === null ||
      p === undefined ||
      (typeof p === 'object' && typeof p.id === 'string' && typeof p.name === 'string')
    )
  )
    throw new Error(
      'msg.event is not a detection event: it needs known (true or false), time (ISO text) and person ({id, name} or null)',
    );
  // Other people seen in the same frame (detection-log's `faces`): a list of {person: {id} or null}.
  if (
    e.faces !== undefined &&
    !(
      Array.isArray(e.faces) &&
      e.faces.every((f: unknown) => {
        if (!f || typeof f !== 'object') return false;
        const fp = (f as { person?: unknown }).person;
        return (
          fp === null ||
          fp === undefined ||
          (typeof fp === 'object' && typeof (fp as { id?: unknown }).id === 'string')
        );
      })
    )
  )
    throw new Error(
      "msg.event.faces must be detection-log's list of faces in the frame ({box, person: {id, name} or null})",
    );
  // Each becomes a level of a topic, and MQTT refuses topics over 65535 bytes (mqtt.js then throws
  // from inside its socket code, where nothing catches it).
  for (const [what, v] of [
    ['camera', e.camera],
    ['person.id', p?.id],
  ] as const)
    if (typeof v === 'string' && Buffer.byteLength(v) > MAX_TOPIC_PART)
      throw new Error(`msg.event.${what} is too long for an MQTT topic (more than ${MAX_TOPIC_PART} bytes)`);
  try {
    JSON.stringify(e);
  } catch {
    throw new Error('msg.event cannot be published: it is not JSON (a circular reference or a BigInt in it)');
  }
  const person = e.person as Partial<NonNullable<DetectionEvent['person']>> | null | undefined;
  const reserved =
    reservedKeyProblem('msg.event.camera', e.camera) ??
    reservedKeyProblem('msg.event.person.id', person?.id) ??
    reservedKeyProblem('msg.event.person.name', person?.name);
  if (reserved) throw new Error(reserved);
  return e as DetectionEvent;
}

/** face-mqtt's work: the broker's client and the store leased, events published, people announced. */
export class FaceMqttController {
  private ready: Promise<FaceMqtt>;
  private broker?: Lease<MqttPublisher>;
  private store?: StoreLease;
  private faces?: FaceMqtt;
  private unhook?: () => void;
  private unhookVisitors?: () => void;
  private election?: Election;
  private closed = false;

  constructor(private readonly deps: FaceMqttDeps) {
    this.ready = this.open();
    // An open that fails is reported here and again by the input that waits for it.
    this.ready.catch((err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err));
      deps.status.error(error);
      deps.error(error);
    });
  }

  private async open(): Promise<FaceMqtt> {
    this.broker = await this.deps.acquireBroker();
    if (this.closed) throw new Error('closed');
    const faces = new FaceMqtt(this.broker.resource, {
      snapshots: this.deps.snapshots,
      presenceTimeout: this.deps.presenceTimeout,
      // An event still in flight when its person was deleted must not publish them again.
      enrolled: (id) => (this.store ? this.store.resource.getPerson(id) !== undefined : undefined),
      nameOf: (id) => this.store?.resource.getPerson(id)?.name,
    });
    this.faces = faces;
    // A visitor forgotten, merged into another, enrolled or expired: its retained topics go (the
    // visitors of this node's store, or of any store when it has none).
    this.unhookVisitors = onVisitorGone((store, id, fate) => {
      if (!this.store || this.store.resource === store) faces.forgetVisitor(id, fate);
    });
    this.show(this.broker.resource.state());
    if (this.deps.acquireStore) {
      this.store = await this.deps.acquireStore();
      if (this.closed) throw new Error('closed');
      const store = this.store.resource;
      if (store.elect) {
        // Several instances share the store: the people's Home Assistant entities are published by
        // one of them, elected per broker base (cameras by the instance they run on).
        faces.lead(false, []);
        const { discoveryPrefix, topics } = this.broker.resource;
        this.election = store.elect(`mqtt-discovery:${discoveryPrefix}/${topics.base}`);
        this.election.on('change', (leader) => faces.lead(leader, store.listPeople()));
      }
      this.watchStore(store, faces);
    }
    return faces;
  }

  private watchStore(store: OpenStore, faces: FaceMqtt): void {
    const added = (p: Person): void => faces.announce(p);
    const deleted = (p: Person): void => faces.forget(p);
    store.on('person-added', added);
    store.on('person-updated', added);
    store.on('person-deleted', deleted);
    this.unhook = () => {
      store.off('person-added', added);
      store.off('person-updated', added);
      store.off('person-deleted', deleted);
    };
    faces.announceAll(store.listPeople());
    // What an earlier run left retained of people erased meanwhile (facewatch delete while Node-RED
    // was stopped), and its cameras' stale presence and snapshots, is cleared once the broker answers.
    faces.sweepStale(store.listPeople()).catch((err: unknown) => this.deps.error(err as Error));
  }

  /** Shows the broker's state in the node's status. */
  show(state: PublisherState): void {
    const { status } = this.deps;
    const dropped = state.dropped ? `, ${state.dropped} dropped` : '';
    if (state.connected) {
      if (state.dropped) status.set('warn', 'status.connectedDropped', { dropped: state.dropped });
      else status.set('ok', 'status.connected');
    } else if (state.error)
      status.raw('error', `${state.error}${state.queued ? ` (${state.queued} queued${dropped})` : ''}`);
    else status.set('warn', 'status.offline', { queued: state.queued, dropped });
  }

  /** Publishes an event (waits for the broker's client on the first). */
  async publish(event: DetectionEvent, snapshot: unknown): Promise<void> {
    const faces = await this.ready;
    faces.publish(event, Buffer.isBuffer(snapshot) ? snapshot : undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.ready.catch(() => undefined);
    this.unhook?.();
    this.unhookVisitors?.();
    await this.election?.close();
    this.faces?.close();
    await this.store?.release();
    await this.broker?.release();
  }
}
