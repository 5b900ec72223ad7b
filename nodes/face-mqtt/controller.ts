import { FaceMqtt } from '../../lib/mqtt/faces';
import type { MqttPublisher, PublisherState } from '../../lib/mqtt/publisher';
import type { Lease } from '../../lib/shared/owner';
import type { FaceStore, Person } from '../../lib/store/face-store';
import type { DetectionEvent } from '../../lib/types/events';
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

/** The event a message carries: `msg.event`, else `msg.payload` when it has an event's shape. */
export function eventOf(msg: { event?: unknown; payload?: unknown }): DetectionEvent {
  const e = (msg.event ?? msg.payload) as Partial<DetectionEvent> | undefined;
  if (!e || typeof e !== 'object' || typeof e.camera !== 'string' || typeof e.id !== 'string')
    throw new Error('msg.event is not a detection event (wire face-mqtt after detection-log)');
  return e as DetectionEvent;
}

/** face-mqtt's work: the broker's client and the store leased, events published, people announced. */
export class FaceMqttController {
  private ready: Promise<FaceMqtt>;
  private broker?: Lease<MqttPublisher>;
  private store?: StoreLease;
  private faces?: FaceMqtt;
  private unhook?: () => void;
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
    });
    this.faces = faces;
    this.show(this.broker.resource.state());
    if (this.deps.acquireStore) {
      this.store = await this.deps.acquireStore();
      if (this.closed) throw new Error('closed');
      this.watchStore(this.store.store, faces);
    }
    return faces;
  }

  private watchStore(store: FaceStore, faces: FaceMqtt): void {
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
    this.faces?.close();
    await this.store?.release();
    await this.broker?.release();
  }
}
