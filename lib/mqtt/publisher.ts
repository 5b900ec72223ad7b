/**
 * The MQTT side of FaceWatch: one client per broker, shared by every face-mqtt using it. It keeps
 * what must survive the broker (the availability, the discovery configs, the retained state) and
 * publishes it again on every connect, since a broker restarted without persistence has lost its
 * retained messages; events published while the broker is away wait in a bounded queue, in order,
 * the oldest dropped (and counted) when it overflows.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { displayUrl, redactor } from '../camera/url';
import { MQTT, MQTT_TEXT } from '../types/defaults';
import { baseTopic, Topics } from './topics';

/** MQTT quality of service. */
export type Qos = 0 | 1 | 2;

/** TLS settings: file paths of PEM files, and whether the broker's certificate is verified. */
export interface TlsOptions {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Verify the broker's certificate against the CAs; on unless `false`. */
  verify?: boolean;
}

/** How a publisher connects and publishes. */
export interface PublisherOptions {
  /** `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
  url: string;
  /** Generated (`facewatch_` and 8 hex digits) when empty. */
  clientId?: string;
  username?: string;
  password?: string;
  /** The first levels of every topic (`facewatch`). */
  baseTopic?: string;
  /**
   * This Node-RED's name when it is one of several instances sharing a store: its availability is
   * then `<base>/instance/<instance>/available` (see Topics), not the installation's `<base>/available`.
   */
  instance?: string;
  /** Home Assistant discovery (on by default). */
  discovery?: boolean;
  /** Home Assistant's discovery prefix (`homeassistant`). */
  discoveryPrefix?: string;
  /** QoS of events and retained state (1). */
  qos?: Qos;
  /** Events kept while the broker is away (1000). */
  queueLimit?: number;
  /** First reconnect delay (ms); it doubles up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Keepalive (s). */
  keepalive?: number;
  tls?: TlsOptions;
}

/** The publisher's state, as pushed to the face-mqtt nodes. */
export interface PublisherState {
  connected: boolean;
  /** Events waiting for the broker. */
  queued: number;
  /** Events dropped from a full queue since the start. */
  dropped: number;
  /** Connections made since the start (the first one included). */
  connects: number;
  /** The last connection error, redacted. */
  error?: string;
}

/** One MQTT message. */
export interface OutMessage {
  topic: string;
  payload: string | Buffer;
}

/** The protocols a broker URL may use. */
export const BROKER_PROTOCOLS = ['mqtt:', 'mqtts:', 'ws:', 'wss:'] as const;

/** `online` / `offline` on `<base>/available`. */
export const ONLINE = 'online';
export const OFFLINE = 'offline';

/** Whether an MQTT topic filter (with `+` and `#`) matches a topic. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

/**
 * Checks a broker URL: it must parse and use one of {@link BROKER_PROTOCOLS}. The error shows the
 * URL without its password.
 */
export function checkBrokerUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`broker URL "${displayUrl(url)}" is not a URL (mqtt://host:1883)`);
  }
  if (!(BROKER_PROTOCOLS as readonly string[]).includes(u.protocol))
    throw new Error(`broker URL "${displayUrl(url)}" must start with mqtt://, mqtts://, ws:// or wss://`);
  return u;
}

function readPem(what: string, file: string | undefined): Buffer | undefined {
  if (!file?.trim()) return undefined;
  try {
    return readFileSync(file.trim());
  } catch (err) {
    throw new Error(
      `cannot read the ${what} file ${file.trim()}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/** What a publisher emits: `state` (PublisherState) on every change of connection or queue. */
export interface PublisherEvents {
  state: [PublisherState];
}

/**
 * One broker connection. Create it, {@link start} it, publish through it, {@link stop} it.
 * Passwords never appear in what it reports: errors pass through the camera URL redactor.
 */
export class MqttPublisher extends EventEmitter<PublisherEvents> {
  readonly topics: Topics;
  readonly qos: Qos;
  readonly discovery: boolean;
  readonly discoveryPrefix: string;
  readonly clientId: string;
  /** The URL as it may be shown (no password). */
  readonly displayUrl: string;
  private client?: MqttClient;
  private readonly queueLimit: number;
  private readonly queue: OutMessage[][] = [];
  private dropped = 0;
  private connects = 0;
  private lastError?: string;
  private stopping = false;
  private pending = 0;
  private idleWaiters: Array<() => void> = [];
  /** Retained state by topic, in the order first set. */
  private readonly retained = new Map<string, string | Buffer>();
  /** Discovery configs by topic. */
  private readonly configs = new Map<string, string>();
  /** Topic filters followed (see {@link watch}) and their handlers. */
  private readonly watches = new Map<string, Set<(topic: string, payload: Buffer) => void>>();
  /** Retained topics cleared while the broker was away: their empty payloads go out on connect. */
  private readonly clears = new Set<string>();
  private readonly redact: (text: string) => string;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;

  constructor(private readonly options: PublisherOptions) {
    super();
    checkBrokerUrl(options.url);
    this.displayUrl = displayUrl(options.url);
    this.topics = new Topics(baseTopic(options.baseTopic, MQTT_TEXT.baseTopic), options.instance);
    this.qos = options.qos ?? (MQTT.qos.default as Qos);
    this.discovery = options.discovery !== false;
    this.discoveryPrefix = baseTopic(options.discoveryPrefix, MQTT_TEXT.discoveryPrefix);
    this.clientId = options.clientId?.trim() || `facewatch_${randomBytes(4).toString('hex')}`;
    this.queueLimit = Math.max(1, Math.floor(options.queueLimit ?? MQTT.queueLimit.default));
    this.retryDelayMs = options.retryDelayMs ?? MQTT.retryDelay.default * 1000;
    this.maxRetryDelayMs = Math.max(
      this.retryDelayMs,
      options.maxRetryDelayMs ?? MQTT.maxRetryDelay.default * 1000,
    );
    const fromUrl = new URL(options.url);
    this.redact = redactor({
      username: options.username ?? decodeURIComponent(fromUrl.username),
      password: options.password ?? decodeURIComponent(fromUrl.password),
    });
  }

  /** The state now. */
  state(): PublisherState {
    return {
      connected: this.client?.connected === true,
      queued: this.queue.length,
      dropped: this.dropped,
      connects: this.connects,
      ...(this.lastError ? { error: this.lastError } : {}),
    };
  }

  /** The underlying client (tests cut its socket to see the Last Will). */
  get mqttClient(): MqttClient | undefined {
    return this.client;
  }

  /**
   * Starts connecting; resolves at once (a broker that is down is retried with backoff, and events
   * wait in the queue meanwhile). Throws for unreadable TLS files.
   */
  start(): void {
    if (this.client) return;
    const tls = this.options.tls ?? {};
    const opts: IClientOptions = {
      clientId: this.clientId,
      username: this.options.username || undefined,
      password: this.options.password || undefined,
      clean: true,
      keepalive: this.options.keepalive ?? MQTT.keepalive.default,
      reconnectPeriod: this.retryDelayMs,
      connectTimeout: 10000,
      // Our own queue holds events while the broker is away; the client's would grow without bound.
      queueQoSZero: false,
      will: { topic: this.topics.available, payload: Buffer.from(OFFLINE), qos: this.qos, retain: true },
      rejectUnauthorized: tls.verify !== false,
      ca: readPem('CA certificate', tls.caFile),
      cert: readPem('client certificate', tls.certFile),
      key: readPem('client key', tls.keyFile),
    };
    const client = mqtt.connect(this.options.url, opts);
    this.client = client;
    client.on('connect', () => {
      this.connects++;
      this.lastError = undefined;
      client.options.reconnectPeriod = this.retryDelayMs;
      this.onConnect(client);
    });
    client.on('close', () => {
      if (this.stopping) return;
      // The client has already set its next attempt; the one after waits twice as long.
      client.options.reconnectPeriod = Math.min(
        this.maxRetryDelayMs,
        (client.options.reconnectPeriod ?? this.retryDelayMs) * 2,
      );
      this.changed();
    });
    client.on('error', (err) => {
      this.lastError = this.redact(err.message || String(err));
      this.changed();
    });
    client.on('message', (topic, payload) => {
      if (topic === this.haStatusTopic && payload.toString() === ONLINE) this.republish(client);
      for (const [filter, handlers] of this.watches)
        if (topicMatches(filter, topic)) for (const h of handlers) h(topic, payload);
    });
  }

  private get haStatusTopic(): string {
    return `${this.discoveryPrefix}/status`;
  }

  private onConnect(client: MqttClient): void {
    if (this.discovery) client.subscribe(this.haStatusTopic, { qos: 0 }, () => undefined);
    if (this.watches.size) client.subscribe([...this.watches.keys()], { qos: 0 }, () => undefined);
    this.send(client, { topic: this.topics.available, payload: ONLINE }, true);
    for (const topic of this.clears) this.send(client, { topic, payload: '' }, true);
    this.clears.clear();
    this.republish(client);
    while (this.queue.length && client.connected) this.sendBatch(client, this.queue.shift() as OutMessage[]);
    this.changed();
  }

  /** Everything retained, again: the discovery configs first, then the state. */
  private republish(client: MqttClient): void {
    if (this.discovery)
      for (const [topic, payload] of this.configs) this.send(client, { topic, payload }, true);
    for (const [topic, payload] of this.retained) this.send(client, { topic, payload }, true);
  }

  private send(client: MqttClient, m: OutMessage, retain: boolean, done?: () => void): void {
    client.publish(m.topic, m.payload, { qos: this.qos, retain }, () => done?.());
  }

  private sendBatch(client: MqttClient, batch: OutMessage[]): void {
    for (const m of batch) {
      this.pending++;
      this.send(client, m, false, () => {
        this.pending--;
        this.checkIdle();
      });
    }
  }

  /**
   * Publishes one event's messages (not retained), in order after every earlier event; while the
   * broker is away they wait in the queue, and a full queue drops its oldest event.
   */
  publishEvent(messages: OutMessage[]): void {
    const client = this.client;
    if (client?.connected && this.queue.length === 0) {
      this.sendBatch(client, messages);
      return;
    }
    this.queue.push(messages);
    while (this.queue.length > this.queueLimit) {
      this.queue.shift();
      this.dropped++;
    }
    this.changed();
  }

  /** Sets a retained state topic: published now if connected, and again on every connect. */
  setRetained(topic: string, payload: string | Buffer): void {
    this.retained.set(topic, payload);
    this.clears.delete(topic);
    const client = this.client;
    if (client?.connected) this.send(client, { topic, payload }, true);
  }

  /** Clears a retained topic (an empty retained payload), now or on the next connect. */
  clearRetained(topic: string): void {
    this.retained.delete(topic);
    this.configs.delete(topic);
    const client = this.client;
    if (client?.connected) this.send(client, { topic, payload: '' }, true);
    else this.clears.add(topic);
  }

  /** Sets a discovery config (retained); nothing when discovery is off. */
  setConfig(topic: string, payload: Record<string, unknown>): void {
    if (!this.discovery) return;
    const text = JSON.stringify(payload);
    if (this.configs.get(topic) === text) return;
    this.configs.set(topic, text);
    this.clears.delete(topic);
    const client = this.client;
    if (client?.connected) this.send(client, { topic, payload: text }, true);
  }

  /**
   * Stops republishing a discovery config without clearing it (another instance publishes it now);
   * what is retained on the broker stays.
   */
  dropConfig(topic: string): void {
    this.configs.delete(topic);
  }

  /**
   * Follows the messages of a topic filter (retained ones included, as the broker sends them on
   * every subscription), subscribed again on every connection. Returns the function that stops.
   */
  watch(filter: string, handler: (topic: string, payload: Buffer) => void): () => void {
    let handlers = this.watches.get(filter);
    if (!handlers) {
      handlers = new Set();
      this.watches.set(filter, handlers);
      if (this.client?.connected) this.client.subscribe(filter, { qos: 0 }, () => undefined);
    }
    handlers.add(handler);
    return () => {
      const set = this.watches.get(filter);
      if (!set?.delete(handler) || set.size) return;
      this.watches.delete(filter);
      if (this.client?.connected) this.client.unsubscribe(filter, () => undefined);
    };
  }

  /** Clears a discovery config; nothing when discovery is off. */
  clearConfig(topic: string): void {
    if (this.discovery) this.clearRetained(topic);
  }

  /**
   * Clears what an earlier run left retained under `filters` and this one does not keep: on the
   * next connection (now, when connected), it subscribes to `filters`, takes the retained messages
   * the broker sends within `waitMs`, and clears each one whose topic this publisher has not set
   * itself and `keep` refuses (it is given each message and every message seen). Resolves to the
   * topics cleared; a broker that stays away resolves nothing (the sweep runs when it comes back).
   */
  sweepRetained(
    filters: string[],
    keep: (topic: string, payload: Buffer, seen: ReadonlyMap<string, Buffer>) => boolean,
    waitMs = 1500,
  ): Promise<string[]> {
    return new Promise((resolve) => {
      const run = (client: MqttClient): void => {
        const seen = new Map<string, Buffer>();
        const onMessage = (topic: string, payload: Buffer, packet: { retain?: boolean }): void => {
          if (packet.retain && payload.length > 0) seen.set(topic, payload);
        };
        client.on('message', onMessage);
        client.subscribe(filters, { qos: 0 }, (err) => {
          if (err) {
            client.off('message', onMessage);
            resolve([]);
            return;
          }
          setTimeout(() => {
            client.off('message', onMessage);
            // A filter also followed by watch() stays subscribed.
            const done = filters.filter((f) => !this.watches.has(f));
            if (done.length) client.unsubscribe(done, () => undefined);
            const cleared: string[] = [];
            for (const [topic, payload] of seen) {
              if (this.retained.has(topic) || this.configs.has(topic) || keep(topic, payload, seen)) continue;
              this.clearRetained(topic);
              cleared.push(topic);
            }
            resolve(cleared);
          }, waitMs).unref();
        });
      };
      const client = this.client;
      if (!client || this.stopping) return resolve([]);
      if (client.connected) run(client);
      else client.once('connect', () => run(client));
    });
  }

  /** Resolves once no event waits in the queue and every event sent was acknowledged. */
  whenIdle(): Promise<void> {
    if (this.queue.length === 0 && this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private checkIdle(): void {
    if (this.queue.length || this.pending) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private changed(): void {
    this.emit('state', this.state());
  }

  /**
   * A clean stop: `offline` (retained) when connected, then the client closes. Events still queued
   * are dropped. Safe to call twice.
   */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client || this.stopping) return;
    this.stopping = true;
    if (client.connected) {
      await Promise.race([
        new Promise<void>((resolve) =>
          client.publish(this.topics.available, OFFLINE, { qos: this.qos, retain: true }, () => resolve()),
        ),
        new Promise<void>((resolve) => setTimeout(resolve, 3000).unref()),
      ]);
    }
    await Promise.race([
      client.endAsync(false),
      new Promise<void>((resolve) => setTimeout(resolve, 3000).unref()),
    ]).catch(() => undefined);
    client.end(true);
    client.removeAllListeners();
    // A late socket error of a closed client must not become an uncaught 'error'.
    client.on('error', () => undefined);
    this.removeAllListeners();
    this.idleWaiters.splice(0).forEach((w) => w());
  }
}
