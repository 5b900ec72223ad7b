import type { DetectionLog } from '../../lib/events/log';
import { EventRecorder } from '../../lib/events/recorder';
import { storeEvents } from '../../lib/events/store-events';
import type { Person } from '../../lib/store/face-store';
import { EVENT_SWEEPS } from '../../lib/types/defaults';
import type { DetectionLogSettings } from '../../lib/types/node-settings';
import { onClose } from '../shared/close';
import { translator } from '../shared/i18n';
import { onInput } from '../shared/input';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { upgradeSettings } from '../shared/settings';
import { Status } from '../shared/status';
import { showAvailability, storeProvider, type StoreLease } from '../shared/store';
import { logSettings } from './config';
import { DetectionLogController, type LogMessage, type LogParts } from './controller';

interface DetectionLogDef extends NodeDef, DetectionLogSettings {}

/** detection-log: turns matched faces into events (tracks, cooldown), records, queries and sweeps them. */
export = function register(RED: NodeAPI): void {
  function DetectionLogNode(this: Node, def: DetectionLogDef): void {
    RED.nodes.createNode(this, def);
    const status = new Status(this, translator(RED, 'detection-log'));
    const warn = (m: string): void => this.warn(m);
    const settings = logSettings(upgradeSettings('detection-log', def, warn), warn);
    const storeLease: Promise<StoreLease> = Promise.resolve().then(() =>
      storeProvider(RED, def.store).acquire(this.id),
    );
    // The events belong to the store (lib/events/store-events.ts): its log opens with it, erases
    // with it, and follows the strictest settings of the detection-logs on it (this node is warned,
    // now or when another one starts, when its own are not the ones in force).
    const logOpen: Promise<DetectionLog> = storeLease.then(async ({ resource: store }) => {
      const events = storeEvents(store);
      const { log } = await events.configure(
        this.id,
        {
          dailyFiles: settings.dailyFiles,
          timezone: settings.timezone,
          retainKnownDays: settings.retainKnownDays,
          retainUnknownDays: settings.retainUnknownDays,
          maxDiskMB: settings.maxDiskMB,
        },
        warn,
      );
      const moved = events.takeWarning();
      if (moved) this.warn(moved);
      return log;
    });
    const parts: Promise<LogParts> = Promise.all([storeLease, logOpen]).then(async ([s, log]) => ({
      store: s.resource,
      log,
      recorder: new EventRecorder(log, {
        cooldown: settings.cooldown,
        snapshots: settings.snapshots,
        enrolled: (id) => s.resource.getPerson(id) !== undefined,
        follow: (e) => storeEvents(s.resource).follow(e),
        visitors: settings.visitors ? await storeEvents(s.resource).visitors() : null,
        onVisitorError: (err) => warn(err.message),
      }),
    }));
    const controller = new DetectionLogController(status, parts, warn);
    const onDeleted = (person: Person): void => {
      controller.forget(person.id).catch((err: unknown) => {
        status.error(err);
        this.error(`erasing ${person.id} from the detection log failed: ${(err as Error).message}`);
      });
    };
    const sweep = (): void => {
      void parts
        .then(async ({ store, log }) => {
          await log.sweep();
          await storeEvents(store).sweepVisitors();
        })
        .catch((err: unknown) => this.warn(`detection log sweep failed: ${(err as Error).message}`));
    };
    let timer: NodeJS.Timeout | undefined;
    let flushTimer: NodeJS.Timeout | undefined;
    parts.then(
      ({ store }) => {
        store.on('person-deleted', onDeleted);
        status.set('idle', 'status.ready');
        sweep();
        const minutes = settings.maxDiskMB > 0 ? EVENT_SWEEPS.withCapMinutes : EVENT_SWEEPS.everyMinutes;
        timer = setInterval(sweep, minutes * 60000);
        timer.unref();
        // Unknown tracks that ended while their event waited for their best frames (visitor tracking).
        flushTimer = setInterval(() => {
          controller
            .flush((m) => this.send(m))
            .catch((err: unknown) => {
              status.error(err);
              this.error(err);
            });
        }, 1000);
        flushTimer.unref();
      },
      (err: unknown) => status.error(err),
    );
    showAvailability(this, storeLease, status);
    onInput<LogMessage>(this, status, ({ msg, send }) => controller.handle(msg, send));
    onClose(this, async () => {
      clearInterval(timer);
      clearInterval(flushTimer);
      // Unknown tracks still waiting for their best frames are recorded, not lost with the node.
      const opened = await parts.catch(() => undefined);
      await opened?.recorder
        .flush(Number.POSITIVE_INFINITY)
        .catch((err: unknown) =>
          this.warn(`recording the last unknown tracks failed: ${(err as Error).message}`),
        );
      const s = await storeLease.catch(() => undefined);
      s?.resource.off('person-deleted', onDeleted);
      await logOpen.catch(() => undefined);
      if (s) storeEvents(s.resource).unconfigure(this.id);
      await s?.release();
    });
  }
  RED.nodes.registerType('detection-log', DetectionLogNode);
};
