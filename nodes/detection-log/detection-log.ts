import path from 'node:path';
import { EventLog } from '../../lib/events/log';
import { EventRecorder } from '../../lib/events/recorder';
import type { Person } from '../../lib/store/face-store';
import { ResourceOwner } from '../../lib/shared/owner';
import type { DetectionLogSettings } from '../../lib/types/node-settings';
import { onClose } from '../shared/close';
import { translator } from '../shared/i18n';
import { onInput } from '../shared/input';
import { libraryRegistry } from '../shared/library/api-registry';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { upgradeSettings } from '../shared/settings';
import { Status } from '../shared/status';
import { storeProvider, type StoreLease } from '../shared/store';
import { logSettings } from './config';
import { DetectionLogController, type LogMessage, type LogParts } from './controller';

interface DetectionLogDef extends NodeDef, DetectionLogSettings {}

/**
 * One open event log per datafile in this process: two detection-log nodes on one store share it
 * (the first to open it sets its retention, time zone and daily files).
 */
const logs = new ResourceOwner<EventLog>({ close: (log) => log.close() });

const HOUR_MS = 3600000;

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
    const logLease = storeLease.then(({ store }) => {
      const file = path.join(path.dirname(store.file), 'events.db');
      return logs.acquire(path.resolve(file), this.id, () =>
        EventLog.open({
          file,
          dailyFiles: settings.dailyFiles,
          timezone: settings.timezone,
          retainKnownDays: settings.retainKnownDays,
          retainUnknownDays: settings.retainUnknownDays,
          maxDiskMB: settings.maxDiskMB,
        }),
      );
    });
    const parts: Promise<LogParts> = Promise.all([storeLease, logLease]).then(([s, l]) => ({
      store: s.store,
      log: l.resource,
      recorder: new EventRecorder(l.resource, { cooldown: settings.cooldown, snapshots: settings.snapshots }),
    }));
    const controller = new DetectionLogController(status, parts);
    // The Face Library lists, shows and erases this log's events.
    libraryRegistry(RED).addLog(this, { store: def.store, log: logLease.then((l) => l.resource) });
    const onDeleted = (person: Person): void => {
      controller.forget(person.id).catch((err: unknown) => {
        status.error(err);
        this.error(`erasing ${person.id} from the detection log failed: ${(err as Error).message}`);
      });
    };
    const sweep = (): void => {
      void parts
        .then(({ log }) => log.sweep())
        .catch((err: unknown) => this.warn(`detection log sweep failed: ${(err as Error).message}`));
    };
    let timer: NodeJS.Timeout | undefined;
    parts.then(
      ({ store }) => {
        store.on('person-deleted', onDeleted);
        status.set('idle', 'status.ready');
        sweep();
        timer = setInterval(sweep, HOUR_MS);
        timer.unref();
      },
      (err: unknown) => status.error(err),
    );
    onInput<LogMessage>(this, status, ({ msg, send }) => controller.handle(msg, send));
    onClose(this, async () => {
      clearInterval(timer);
      const s = await storeLease.catch(() => undefined);
      s?.store.off('person-deleted', onDeleted);
      const l = await logLease.catch(() => undefined);
      await l?.release();
      await s?.release();
    });
  }
  RED.nodes.registerType('detection-log', DetectionLogNode);
};
