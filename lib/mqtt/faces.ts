/**
 * Detection events to MQTT topics, presence and Home Assistant entities: what one face-mqtt node
 * does with the shared {@link MqttPublisher} of its broker.
 */
import type { DetectionEvent, EventVisitor } from '../types/events';
import { MQTT } from '../types/defaults';
import { VisitorFates, type VisitorFate } from '../events/visitors';
import { cameraConfigs, personConfigs, type DiscoveryContext } from './discovery';
import type { MqttPublisher, OutMessage } from './publisher';

/** A face-mqtt's own settings. */
export interface FaceMqttOptions {
  /** Publish `msg.snapshot` as `<base>/<camera>/snapshot` (retained JPEG). */
  snapshots?: boolean;
  /** Seconds after the last sighting before a person counts as gone (300). */
  presenceTimeout?: number;
  /**
   * Whether a person is still enrolled (false for one deleted, or being erased); undefined when
   * it cannot be told (no face store). An event of a person who is not, or one whose picture
   * shows them, arriving after their erasure, is not published and sets no retained state.
   */
  enrolled?: (id: string) => boolean | undefined;
  /** A person's name as the store has it (a state another instance published is shown with it). */
  nameOf?: (id: string) => string | undefined;
}

/** A person as the store knows them. */
export interface PersonRef {
  id: string;
  name: string;
}

/** `<base>/person/<id>` (retained). */
export interface PersonState {
  id: string;
  name: string;
  /** The camera they were last seen at. */
  camera: string | null;
  /** ISO time of the last sighting. */
  lastSeen: string | null;
  /** Seen within the presence timeout. */
  present: boolean;
}

/** `<base>/<camera>/person` (retained). */
export interface CameraPresence {
  camera: string;
  /** Names of the known people seen within the presence timeout, sorted. */
  names: string[];
  count: number;
  /** The last recognised name (kept when the view empties), or null. */
  last: string | null;
  /** ISO time of the last recognition, or null. */
  lastSeen: string | null;
  /** The instance the camera runs on, when several share the store. */
  instance?: string;
}

/** `<base>/visitor/<id>` (retained): the visitor's state, with where and when it was last seen. */
export interface VisitorState extends EventVisitor {
  /** The camera of its latest event. */
  camera: string;
  /** Its latest event's id. */
  event: string;
}

/** `<base>/<camera>/visitors` (retained): the recurring visitors seen there today. */
export interface CameraVisitors {
  camera: string;
  /** This machine's date (YYYY-MM-DD) the count is of. */
  date: string;
  today: number;
}

/** `time`'s date on this machine's clock, YYYY-MM-DD. */
function localDate(time: string | number | Date): string {
  const d = new Date(time);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

interface InView {
  name: string;
  timer: NodeJS.Timeout;
}

/** Publishes events, presence and discovery for one face-mqtt node. */
export class FaceMqtt {
  private readonly snapshots: boolean;
  private readonly presenceMs: number;
  private readonly ctx: DiscoveryContext;
  private readonly people = new Map<string, PersonState>();
  private readonly presenceTimers = new Map<string, NodeJS.Timeout>();
  private readonly cameras = new Map<string, { state: CameraPresence; view: Map<string, InView> }>();
  /** The people drawn on each camera's retained snapshot, by id: an erasure clears the snapshot that shows them. */
  private readonly snapshotPeople = new Map<string, Set<string>>();
  /** The visitors seen today at each camera (the date, and their ids). */
  private readonly visitorsToday = new Map<string, { date: string; ids: Set<string> }>();
  /** Visitors gone from the gallery: an event of one still on its way follows it (or is not published). */
  private readonly goneVisitors = new VisitorFates();
  private closed = false;
  /**
   * Whether this instance publishes the people's Home Assistant entities: always alone; with several
   * instances, the one elected (see {@link lead}).
   */
  private leading = true;
  /** This instance's name when it is one of several sharing the store (the topics say it). */
  private readonly instance?: string;
  private readonly unwatch?: () => void;

  constructor(
    private readonly publisher: MqttPublisher,
    private readonly options: FaceMqttOptions = {},
  ) {
    this.snapshots = options.snapshots === true;
    const timeout = options.presenceTimeout ?? MQTT.presenceTimeout.default;
    this.presenceMs = timeout * 1000;
    this.ctx = { prefix: publisher.discoveryPrefix, topics: publisher.topics, presenceTimeout: timeout };
    this.instance = publisher.topics.instance;
    // Several instances publish one person's state: each follows the others' sightings, so that
    // presence ends a timeout after the last sighting anywhere, not after its own.
    if (this.instance !== undefined)
      this.unwatch = publisher.watch(`${publisher.topics.base}/person/+`, (topic, payload) =>
        this.sighted(topic, payload),
      );
  }

  /** Whether a person is known to be no longer enrolled. */
  private erased(id: string): boolean {
    return this.options.enrolled?.(id) === false;
  }

  /** Publishes one event: on `<base>/events` and `<base>/<camera>/events`, then the state it changes. */
  publish(event: DetectionEvent, snapshot?: Buffer): void {
    if (this.closed) return;
    if (event.visitor && this.goneVisitors.has(event.visitor.id)) {
      // Its visitor left while it was on its way: relabelled (merged, enrolled), or not published
      // at all (forgotten: its retained topic stays cleared); the drawn frame showed the old label.
      const followed = this.goneVisitors.follow(event);
      if (!followed) return;
      event = followed;
      snapshot = undefined;
    }
    if (event.person && this.erased(event.person.id)) return;
    if (event.faces?.some((f) => f.person && this.erased(f.person.id))) {
      event = { ...event, faces: event.faces.filter((f) => !f.person || !this.erased(f.person.id)) };
      snapshot = undefined;
    }
    const t = this.publisher.topics;
    const camera = String(event.camera ?? '');
    const json = JSON.stringify(event);
    const messages: OutMessage[] = [
      { topic: t.events, payload: json },
      { topic: t.cameraEvents(camera), payload: json },
    ];
    this.publisher.publishEvent(messages);
    if (this.snapshots && Buffer.isBuffer(snapshot)) {
      this.publisher.setRetained(t.cameraSnapshot(camera), snapshot);
      const shown = event.faces ? event.faces.map((f) => f.person?.id) : [event.person?.id];
      this.snapshotPeople.set(camera, new Set(shown.filter((id): id is string => typeof id === 'string')));
    }
    const cam = this.camera(camera);
    if (event.known && event.person) this.seen(event.person, camera, event.time, cam);
    else if (!event.known && event.visitor) this.visited(event.visitor, camera, event);
  }

  /** A recurring visitor seen: its retained state, and the camera's count of visitors today. */
  private visited(visitor: EventVisitor, camera: string, event: DetectionEvent): void {
    const state: VisitorState = { ...visitor, camera, event: event.id };
    this.publisher.setRetained(this.ctx.topics.visitor(visitor.id), JSON.stringify(state));
    const date = localDate(event.time);
    let day = this.visitorsToday.get(camera);
    if (!day || day.date < date) {
      day = { date, ids: new Set() };
      this.visitorsToday.set(camera, day);
    }
    // An event of an earlier day (a late outbox) does not change today's count.
    if (day.date !== date || day.ids.has(visitor.id)) return;
    day.ids.add(visitor.id);
    this.publishVisitors(camera);
  }

  private publishVisitors(camera: string): void {
    const day = this.visitorsToday.get(camera);
    if (!day) return;
    const state: CameraVisitors = { camera, date: day.date, today: day.ids.size };
    this.publisher.setRetained(this.ctx.topics.cameraVisitors(camera), JSON.stringify(state));
  }

  /**
   * Erases a visitor that left the gallery (`fate` says why; null: expired, or not said): its
   * retained state is cleared, it leaves the cameras' counts of today, and an event of it still on
   * its way follows it (see {@link VisitorFates.follow}).
   */
  forgetVisitor(id: string, fate: VisitorFate | null = null): void {
    this.goneVisitors.set(id, fate);
    this.publisher.clearRetained(this.ctx.topics.visitor(id));
    for (const [camera, day] of this.visitorsToday) if (day.ids.delete(id)) this.publishVisitors(camera);
  }

  private camera(camera: string): { state: CameraPresence; view: Map<string, InView> } {
    let cam = this.cameras.get(camera);
    if (!cam) {
      const state: CameraPresence = { camera, names: [], count: 0, last: null, lastSeen: null };
      if (this.instance !== undefined) state.instance = this.instance;
      cam = { state, view: new Map() };
      this.cameras.set(camera, cam);
      for (const c of cameraConfigs(this.ctx, camera)) this.publisher.setConfig(c.topic, c.payload);
      this.publishCamera(cam);
    }
    return cam;
  }

  private seen(
    person: PersonRef,
    camera: string,
    time: string,
    cam: { state: CameraPresence; view: Map<string, InView> },
  ): void {
    this.announce(person);
    const state: PersonState = { id: person.id, name: person.name, camera, lastSeen: time, present: true };
    this.people.set(person.id, state);
    this.publisher.setRetained(this.ctx.topics.person(person.id), JSON.stringify(state));
    this.presentFor(person.id, this.presenceMs);

    const previous = cam.view.get(person.id);
    clearTimeout(previous?.timer);
    const viewTimer = setTimeout(() => this.leaves(camera, person.id), this.presenceMs);
    viewTimer.unref();
    cam.view.set(person.id, { name: person.name, timer: viewTimer });
    cam.state.last = person.name;
    cam.state.lastSeen = time;
    this.publishCamera(cam);
  }

  /** Presence of a person ends in `ms` (now when `ms` ≤ 0 and nothing to say: no timer at all). */
  private presentFor(id: string, ms: number): void {
    clearTimeout(this.presenceTimers.get(id));
    this.presenceTimers.delete(id);
    if (ms <= 0) return;
    const timer = setTimeout(() => this.gone(id), ms);
    timer.unref();
    this.presenceTimers.set(id, timer);
  }

  /**
   * A person's state as another instance published it (or as this one did, coming back): a later
   * sighting than this instance knows becomes its state, and presence ends a timeout after it. Only
   * for people enrolled here; a cleared topic, an older state or anything else is ignored.
   */
  private sighted(topic: string, payload: Buffer): void {
    if (this.closed || payload.length === 0 || payload.length > 65536) return;
    let state: Partial<PersonState>;
    try {
      state = JSON.parse(payload.toString('utf8')) as Partial<PersonState>;
    } catch {
      return;
    }
    if (!state || typeof state.id !== 'string' || typeof state.lastSeen !== 'string') return;
    if (topic !== this.ctx.topics.person(state.id) || this.options.enrolled?.(state.id) !== true) return;
    const at = Date.parse(state.lastSeen);
    const mine = this.people.get(state.id);
    if (!Number.isFinite(at) || (mine?.lastSeen && Date.parse(mine.lastSeen) >= at)) return;
    const left = at + this.presenceMs - Date.now();
    this.people.set(state.id, {
      id: state.id,
      // The name is the store's, never one a message brought.
      name: mine?.name ?? this.options.nameOf?.(state.id) ?? state.id,
      camera: typeof state.camera === 'string' ? state.camera : null,
      lastSeen: state.lastSeen,
      present: state.present === true && left > 0,
    });
    // Its publisher turns it off when the time comes; this instance does too (the same state), in
    // case that one stopped meanwhile.
    this.presentFor(state.id, state.present === true ? left : 0);
  }

  private gone(id: string): void {
    this.presenceTimers.delete(id);
    const state = this.people.get(id);
    if (!state || this.closed) return;
    state.present = false;
    this.publisher.setRetained(this.ctx.topics.person(id), JSON.stringify(state));
  }

  private leaves(camera: string, id: string): void {
    const cam = this.cameras.get(camera);
    if (!cam || this.closed) return;
    cam.view.delete(id);
    this.publishCamera(cam);
  }

  private publishCamera(cam: { state: CameraPresence; view: Map<string, InView> }): void {
    const names = [...cam.view.values()].map((v) => v.name).sort((a, b) => a.localeCompare(b));
    cam.state.names = names;
    cam.state.count = names.length;
    this.publisher.setRetained(this.ctx.topics.cameraPerson(cam.state.camera), JSON.stringify(cam.state));
  }

  /** Announces an enrolled person to Home Assistant (their two entities), and their state if new. */
  announce(person: PersonRef): void {
    if (this.closed || this.erased(person.id)) return;
    if (this.leading)
      for (const c of personConfigs(this.ctx, person)) this.publisher.setConfig(c.topic, c.payload);
    const known = this.people.get(person.id);
    if (known && known.name !== person.name) {
      known.name = person.name;
      this.publisher.setRetained(this.ctx.topics.person(person.id), JSON.stringify(known));
    }
  }

  /** Announces every enrolled person (at start). */
  announceAll(people: PersonRef[]): void {
    for (const p of people) this.announce(p);
  }

  /**
   * With several instances: whether this one is elected to publish the people's Home Assistant
   * entities. Taking the role publishes every person's (with this instance's availability); losing
   * it stops republishing them (the new leader's replace them on the broker).
   */
  lead(leading: boolean, people: PersonRef[]): void {
    if (this.leading === leading || this.closed) return;
    this.leading = leading;
    if (leading) this.announceAll(people);
    else
      for (const p of people) for (const c of personConfigs(this.ctx, p)) this.publisher.dropConfig(c.topic);
  }

  /**
   * Clears what an earlier run left retained under this base and is no longer true, once the broker
   * answers: the state and Home Assistant entities of people who are not enrolled any more (deleted
   * while Node-RED was stopped, e.g. by `facewatch delete`), and the cameras' presence and snapshots
   * (a new run starts with nobody in view; an old snapshot may show anyone). Resolves to the topics
   * cleared.
   */
  sweepStale(people: PersonRef[]): Promise<string[]> {
    const t = this.publisher.topics;
    const keep = new Set<string>(people.map((p) => t.person(p.id)));
    for (const p of people) for (const c of personConfigs(this.ctx, p)) keep.add(c.topic);
    const filters = [`${t.base}/person/+`, `${t.base}/+/person`, `${t.base}/+/snapshot`];
    // Discovery topics end `<component>/<node id>/<object id>/config`: every object of this base.
    const sample = personConfigs(this.ctx, { id: 'x', name: '' })[0].topic.split('/');
    const nodeLevel = sample.length - 3;
    if (this.publisher.discovery) {
      const filter = [...sample];
      filter[nodeLevel - 1] = '+';
      filter[nodeLevel + 1] = '+';
      filters.push(filter.join('/'));
    }
    return this.publisher.sweepRetained(filters, (topic, payload, seen) => {
      const levels = topic.split('/');
      if (topic.startsWith(`${this.ctx.prefix}/`) && levels.length === sample.length)
        // A camera's entities stay (the camera is still there); a person's only while enrolled.
        return !levels[nodeLevel + 1].startsWith('person_') || keep.has(topic);
      if (keep.has(topic)) return true;
      // With several instances, a camera's presence and snapshot belong to the instance it runs on.
      if (this.instance === undefined || topic.startsWith(`${t.base}/person/`)) return false;
      const presence = topic.endsWith('/snapshot')
        ? seen.get(topic.replace(/\/snapshot$/, '/person'))
        : payload;
      const owner = presence === undefined ? undefined : this.ownerOf(presence);
      return owner !== undefined && owner !== this.instance;
    });
  }

  /** The instance a camera's retained presence names; undefined when it names none or is unreadable. */
  private ownerOf(presence: Buffer): string | undefined {
    try {
      const owner = (JSON.parse(presence.toString('utf8')) as Partial<CameraPresence>).instance;
      return typeof owner === 'string' ? owner : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Erases a deleted person: their retained state and discovery configs are cleared (empty
   * retained payloads), a camera's retained snapshot that shows them is cleared, and they leave
   * every camera's view.
   */
  forget(person: PersonRef): void {
    for (const [camera, shown] of this.snapshotPeople) {
      if (!shown.has(person.id)) continue;
      // The retained picture has their face and name drawn in: cleared, not republished on reconnect.
      this.publisher.clearRetained(this.publisher.topics.cameraSnapshot(camera));
      this.snapshotPeople.delete(camera);
    }
    clearTimeout(this.presenceTimers.get(person.id));
    this.presenceTimers.delete(person.id);
    this.people.delete(person.id);
    this.publisher.clearRetained(this.ctx.topics.person(person.id));
    for (const c of personConfigs(this.ctx, person)) this.publisher.clearConfig(c.topic);
    for (const cam of this.cameras.values()) {
      const v = cam.view.get(person.id);
      if (!v && cam.state.last !== person.name) continue;
      if (v) clearTimeout(v.timer);
      cam.view.delete(person.id);
      if (cam.state.last === person.name) {
        cam.state.last = null;
        cam.state.lastSeen = null;
      }
      this.publishCamera(cam);
    }
  }

  /** Stops the presence timers; what is retained stays (Home Assistant's off_delay ends presence). */
  close(): void {
    this.closed = true;
    this.unwatch?.();
    for (const t of this.presenceTimers.values()) clearTimeout(t);
    this.presenceTimers.clear();
    for (const cam of this.cameras.values()) for (const v of cam.view.values()) clearTimeout(v.timer);
  }
}
