import { Enroller, type EnrolOptions } from '../../lib/store/enrol';
import { sanitiseId } from '../../lib/store/codec';
import type { OpenStore, Person } from '../../lib/store/types';
import { importSource } from '../../lib/store/import';
import { enrolEventPictures } from '../../lib/store/event-enrol';
import { EVENT_ID } from '../../lib/events/log';
import { storeEvents } from '../../lib/events/store-events';
import type { EngineLease } from '../../lib/vision/registry';
import type { NodeMessageInFlow, Send } from '../shared/red';
import type { Status } from '../shared/status';
import type { StoreLease } from '../shared/store';
import { quoteValue } from '../../lib/shared/quote';

/** Linux's PATH_MAX: the longest path an import can name. */
const MAX_PATH = 4096;

/** The commands face-register understands, by msg.topic. */
export const COMMANDS = [
  'register',
  'add-sample',
  'update',
  'delete',
  'remove-sample',
  'get',
  'list',
  'import',
] as const;
export type Command = (typeof COMMANDS)[number];

export interface RegisterMessage extends NodeMessageInFlow {
  topic?: string;
  payload: unknown;
  person?: { id?: unknown; name?: unknown; metadata?: unknown };
  id?: unknown;
  name?: unknown;
  metadata?: unknown;
  sampleId?: unknown;
  filename?: unknown;
  /** Who made the change, for the audit log. */
  actor?: unknown;
  /** A detection-log event: `register` and `add-sample` enrol its pictures when msg.payload is no photo. */
  event?: unknown;
}

/** The id of the detection event in msg.event (from detection-log) when msg.payload is no photo. */
function eventToEnrol(msg: RegisterMessage): string | undefined {
  if (Buffer.isBuffer(msg.payload) || msg.event === undefined) return undefined;
  const event = msg.event;
  const id = typeof event === 'object' && event !== null ? (event as { id?: unknown }).id : undefined;
  if (typeof id !== 'string' || !EVENT_ID.test(id))
    throw new Error(`msg.event must be a detection-log event with its id, got ${quoteValue(msg.event)}`);
  return id;
}

/** The person fields of a message: msg.person, or msg.id / msg.name / msg.metadata. */
function personFields(msg: RegisterMessage): {
  id?: string;
  name?: string;
  metadata?: Record<string, unknown>;
} {
  const src = msg.person && typeof msg.person === 'object' ? msg.person : msg;
  // Ids and names are text (a number is taken as its digits); any other value is named in the error.
  const text = (v: unknown, what: string): string | undefined => {
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    throw new Error(
      `the person's ${what} (msg.person.${what} or msg.${what}) must be text, got ${quoteValue(v)}`,
    );
  };
  const metadata = src.metadata;
  if (
    metadata !== undefined &&
    (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
  ) {
    throw new Error('metadata must be an object, e.g. {"role": "visitor"}');
  }
  return {
    id: text(src.id, 'id'),
    name: text(src.name, 'name'),
    metadata: metadata as Record<string, unknown> | undefined,
  };
}

/** The id a command works on, checked as the store checks ids (so an error names it, shortened). */
function requireId(fields: { id?: string }, command: string): string {
  if (!fields.id) throw new Error(`"${command}" needs the person's id in msg.person.id (or msg.id)`);
  return sanitiseId(fields.id);
}

/** msg.filename when it is text (its extension is checked against the photo's type). */
function fileNameOf(msg: RegisterMessage): string | undefined {
  if (typeof msg.filename !== 'string') return undefined;
  if (msg.filename.length > MAX_PATH)
    throw new Error(
      `msg.filename ${quoteValue(msg.filename)} is not a file name (longer than ${MAX_PATH} characters)`,
    );
  return msg.filename;
}

function requireImage(msg: RegisterMessage, command: string): Buffer {
  if (!Buffer.isBuffer(msg.payload)) {
    throw new Error(`"${command}" needs the photo as a Buffer in msg.payload (PNG, JPEG or WebP)`);
  }
  return msg.payload;
}

/** Runs face-register's commands against a store, with an engine for the photos. */
export class FaceRegisterController {
  constructor(
    private readonly nodeId: string,
    private readonly status: Status,
    private readonly store: Promise<StoreLease>,
    /** Leases the engine on first use. */
    private readonly engine: () => Promise<EngineLease>,
    private readonly options: Partial<EnrolOptions>,
  ) {}

  private actor(msg: RegisterMessage): string {
    return typeof msg.actor === 'string' && msg.actor ? msg.actor : `node-red:${this.nodeId}`;
  }

  async handle(msg: RegisterMessage, send: Send): Promise<void> {
    const command = (msg.topic ?? 'register') as Command;
    if (!COMMANDS.includes(command)) {
      throw new Error(
        `unknown command ${quoteValue(msg.topic)} in msg.topic; use one of ${COMMANDS.join(', ')}`,
      );
    }
    const { resource: store } = await this.store;
    const actor = this.actor(msg);
    let person: Person | undefined;
    switch (command) {
      case 'register':
      case 'add-sample': {
        const fields = personFields(msg);
        // Checked before anything is written: with a name, an unknown id would enrol a new person.
        if (command === 'add-sample' && !store.getPerson(requireId(fields, command))) {
          throw new Error(`no person with id ${fields.id}`);
        }
        const { resource: engine } = await this.engine();
        const enroller = new Enroller(store, engine, this.options);
        const eventId = eventToEnrol(msg);
        if (eventId !== undefined) {
          // Enrolment from a track: the event's face crop and the other crops of its passage.
          const log = await storeEvents(store).existing();
          const pictures = (await log?.enrolPictures(eventId)) ?? [];
          if (!pictures.length)
            throw new Error(
              `no picture of event ${eventId} in this store's detection log (snapshots off, or the event erased or expired)`,
            );
          const out = await enrolEventPictures(
            enroller,
            pictures.map((image, i) => ({
              image,
              source: i ? `event:${eventId}:sample-${i}` : `event:${eventId}`,
            })),
            { ...fields, actor },
            command === 'add-sample' ? 'add-sample' : this.options.existing,
          );
          person = store.getPerson(out.result.person.id) ?? out.result.person;
          msg.payload = {
            ...out.result,
            status: out.status,
            person,
            pictures: out.enrolled.length,
            refused: out.refused,
          };
          this.status.set('ok', 'status.enrolled', { name: person.name, size: store.size() });
          break;
        }
        const result = await enroller.enrol(
          {
            image: requireImage(msg, command),
            fileName: fileNameOf(msg),
            ...fields,
            actor,
          },
          command === 'add-sample' ? { existing: 'add-sample' } : {},
        );
        person = result.person;
        msg.payload = result;
        this.status.set('ok', 'status.enrolled', { name: person.name, size: store.size() });
        break;
      }
      case 'update': {
        const { name, metadata, ...fields } = personFields(msg);
        person = await store.updatePerson(requireId(fields, command), { name, metadata }, actor);
        msg.payload = person;
        break;
      }
      case 'delete': {
        const id = requireId(personFields(msg), command);
        const existed = store.getPerson(id);
        // deletePerson also finishes an erasure of the id that an earlier failure left pending.
        if (!(await store.deletePerson(id, actor))) throw new Error(`no person with id ${id}`);
        msg.payload = { deleted: true, id, name: existed?.name ?? null };
        this.status.set('ok', 'status.deleted', { id, size: store.size() });
        break;
      }
      case 'remove-sample': {
        const id = requireId(personFields(msg), command);
        if (typeof msg.sampleId !== 'string' || !msg.sampleId)
          throw new Error('"remove-sample" needs msg.sampleId');
        person = await store.removeSample(id, msg.sampleId, actor);
        msg.payload = person;
        break;
      }
      case 'get': {
        const id = requireId(personFields(msg), command);
        person = store.getPerson(id);
        if (!person) throw new Error(`no person with id ${id}`);
        msg.payload = person;
        break;
      }
      case 'list':
        msg.payload = store.listPeople();
        break;
      case 'import': {
        if (typeof msg.payload !== 'string' || !msg.payload.trim()) {
          throw new Error(
            '"import" needs the path of a folder, a CSV/JSON manifest or an export file in msg.payload',
          );
        }
        // No file system takes a path longer than PATH_MAX or with a NUL in it.
        if (msg.payload.length > MAX_PATH || msg.payload.includes('\u0000'))
          throw new Error(
            `"import": ${quoteValue(msg.payload)} is not a path (too long, or a NUL character in it)`,
          );
        const { resource: engine } = await this.engine();
        // An import reports ids that already exist as duplicates (so it can be re-run safely),
        // whatever this node does with an existing id on "register".
        const { existing: _existing, ...enrol } = this.options;
        const report = await importSource(store, engine, msg.payload.trim(), { enrol, actor });
        msg.payload = report;
        this.status.set(report.refused ? 'warn' : 'ok', 'status.imported', {
          enrolled: report.enrolled,
          duplicate: report.duplicate,
          refused: report.refused,
        });
        break;
      }
    }
    if (person) msg.person = { id: person.id, name: person.name, metadata: person.metadata };
    this.showSize(store, command);
    send(msg);
  }

  private showSize(store: OpenStore, command: Command): void {
    if (command === 'list' || command === 'get' || command === 'update' || command === 'remove-sample') {
      this.status.set('idle', 'status.size', { size: store.size() });
    }
  }
}
