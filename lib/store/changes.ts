/**
 * The changes of a face store that keep its people: enrolment, another sample, a rename, the
 * removal of one sample. Each runs inside the store's batch (one change at a time, a backup before
 * the first write) as one unit of datafile writes: a failure on disk leaves the datafile, the
 * images folder, the index and the people in memory as they were. A person's erasure is
 * erasure.ts's; the whole store's (import, re-embedding) transfer.ts's and reembed.ts's.
 */
import type { BackupSet } from './backups';
import {
  formatGeneratedId,
  generatedIdNumber,
  sanitiseId,
  sanitiseMetadata,
  sanitiseName,
  toDescriptor,
} from './codec';
import type { CropFolder } from './crops';
import type { Datafile } from './datafile';
import {
  eventSample,
  mentionsPerson,
  enrolledAt,
  sampleIdFor,
  publicPerson,
  toDoc,
  withoutSample,
  type PersonRecord,
  type SampleRecord,
} from './documents';
import type { Erasures } from './erasure';
import { StoreError } from './errors';
import { errorCode, messageOf } from './files';
import type { StoreInternals } from './internals';
import type { Matcher } from './matcher';
import type { Person, PersonInput, SampleInput } from './types';
import { quoteValue } from '../shared/quote';

/** The parts of a store its changes work on. */
export interface ChangeContext extends Pick<StoreInternals, 'meta' | 'saveMeta' | 'unit' | 'log' | 'emit'> {
  /** The datafile (named in errors). */
  readonly file: string;
  readonly datafile: Datafile;
  readonly crops: CropFolder;
  readonly backups: BackupSet;
  readonly matcher: Matcher;
  /** An id whose erasure is pending is not handed out or taken again until it finishes. */
  readonly erasures: Pick<Erasures, 'pendingOf'>;
  /** The people in memory. */
  readonly people: Map<string, PersonRecord>;
}

export class Changes {
  constructor(private readonly store: ChangeContext) {}

  /**
   * Adds a person, optionally with a first sample (its crop written first, removed again when the
   * document cannot be). Throws `EEXISTS` when the id is taken or its erasure is pending.
   */
  async addPerson(input: PersonInput, sample?: SampleInput, actor?: string): Promise<Person> {
    const name = sanitiseName(input?.name);
    const metadata = sanitiseMetadata(input?.metadata);
    const given =
      input.id !== undefined && input.id !== null && input.id !== '' ? sanitiseId(input.id) : null;
    if (given !== null) {
      if (this.store.people.has(given)) {
        throw new StoreError(
          'EEXISTS',
          `a person with id ${given} already exists (${this.store.people.get(given)?.name})`,
          { id: given },
        );
      }
      const pending = this.store.erasures.pendingOf(given);
      if (pending) {
        throw new StoreError(
          'EEXISTS',
          `person ${given} is being erased (since ${pending.since}); delete ${given} again to finish the erasure before using the id again`,
          { id: given },
        );
      }
    }
    return this.store.unit(async () => {
      let id: string;
      if (given !== null) {
        id = given;
        const n = generatedIdNumber(id);
        // Generated ids skip ids users chose: never hand out this number later, even after a delete.
        if (n !== null && n >= this.store.meta().nextId)
          await this.store.saveMeta({ ...this.store.meta(), nextId: n + 1 });
      } else {
        id = await this.nextId();
      }
      const prepared = sample ? this.prepareSample(id, sample) : null;
      const now = new Date().toISOString();
      const rec: PersonRecord = {
        id,
        name,
        metadata,
        samples: prepared ? [prepared.rec] : [],
        createdAt: enrolledAt(input.createdAt, now),
        updatedAt: now,
      };
      if (prepared) await this.writeImage(prepared.rec, sample?.crop);
      try {
        if (prepared?.adoptModel) await this.adopt(prepared.rec);
        await this.store.datafile.insert(toDoc(rec));
      } catch (err) {
        if (prepared) await this.dropImage(prepared.rec).catch(() => undefined);
        throw err;
      }
      this.store.people.set(id, rec);
      if (prepared) this.store.matcher.index?.add(id, prepared.rec.id, prepared.rec.descriptor);
      const person = publicPerson(rec);
      this.store.log('enrol', actor, rec, { samples: rec.samples.length, source: prepared?.rec.source });
      this.store.emit('person-added', person);
      if (prepared) this.store.emit('sample-added', { person, sample: eventSample(prepared.rec) });
      return person;
    });
  }

  /** Writes a person's document and keeps the record (the index is the caller's). */
  async replace(next: PersonRecord): Promise<void> {
    await this.store.datafile.update(next.id, toDoc(next));
    this.store.people.set(next.id, next);
  }

  /** Adds a sample to a person; the first sample of a store gives it its model. */
  async addSample(id: string, sample: SampleInput, actor?: string): Promise<Person> {
    const p = this.get(id);
    const { rec: s, adoptModel } = this.prepareSample(p.id, sample);
    await this.writeImage(s, sample.crop);
    const next: PersonRecord = { ...p, samples: [...p.samples, s], updatedAt: new Date().toISOString() };
    try {
      await this.store.unit(async () => {
        if (adoptModel) await this.adopt(s);
        await this.replace(next);
      });
    } catch (err) {
      await this.dropImage(s).catch(() => undefined);
      throw err;
    }
    this.store.matcher.index?.add(p.id, s.id, s.descriptor);
    const person = publicPerson(next);
    this.store.log('add-sample', actor, next, { samples: next.samples.length, source: s.source });
    this.store.emit('sample-added', { person, sample: eventSample(s) });
    this.store.emit('person-updated', person);
    return person;
  }

  /** Changes name and/or metadata (metadata is replaced, not merged). */
  async updatePerson(
    id: string,
    patch: { name?: string; metadata?: Record<string, unknown> },
    actor?: string,
  ): Promise<Person> {
    const p = this.get(id);
    const next: PersonRecord = {
      ...p,
      name: patch.name !== undefined ? sanitiseName(patch.name) : p.name,
      metadata: patch.metadata !== undefined ? sanitiseMetadata(patch.metadata) : p.metadata,
      updatedAt: new Date().toISOString(),
    };
    await this.store.unit(() => this.replace(next));
    const person = publicPerson(next);
    const changed = [
      patch.name !== undefined ? 'name' : '',
      patch.metadata !== undefined ? 'metadata' : '',
    ].filter(Boolean);
    this.store.log('update', actor, next, {
      changed,
      ...(next.name !== p.name ? { previousName: p.name } : {}),
    });
    this.store.emit('person-updated', person);
    return person;
  }

  /**
   * Removes one sample and erases it like a person's erasure does: backups rewritten without it,
   * the datafile compacted, its crop deleted, its descriptor zeroed in memory.
   */
  async removeSample(id: string, sampleId: string, actor?: string): Promise<Person> {
    const p = this.get(id);
    const s = p.samples.find((x) => x.id === sampleId);
    if (!s)
      throw new StoreError('ENOTFOUND', `person ${id} has no sample ${quoteValue(sampleId)}`, {
        id,
        sampleId,
      });
    const next: PersonRecord = {
      ...p,
      samples: p.samples.filter((x) => x !== s),
      updatedAt: new Date().toISOString(),
    };
    // Backups first: one that cannot be rewritten is removed, which also makes room on a full disk.
    await this.store.backups.rewriteAll(withoutSample(id, sampleId), mentionsPerson(id));
    // The changed document and the compaction that drops its old lines succeed or fail together.
    await this.store.unit(async () => {
      await this.store.datafile.update(next.id, toDoc(next));
      await this.store.datafile.compact();
    });
    this.store.people.set(next.id, next);
    this.store.matcher.index?.removeSample(s.id);
    await this.dropImage(s).catch((err: Error) =>
      process.emitWarning(
        `face store ${this.store.file}: the image of removed sample ${s.id} could not be deleted (${err.message}); it is swept at the next open`,
      ),
    );
    const person = publicPerson(next);
    this.store.log('remove-sample', actor, next, { samples: next.samples.length });
    this.store.emit('sample-removed', { person, sample: eventSample(s) });
    this.store.emit('person-updated', person);
    s.descriptor.fill(0);
    return person;
  }

  /** The next generated id that no person and no pending erasure holds. */
  private async nextId(): Promise<string> {
    let n = this.store.meta().nextId;
    while (this.store.people.has(formatGeneratedId(n)) || this.store.erasures.pendingOf(formatGeneratedId(n)))
      n++;
    await this.store.saveMeta({ ...this.store.meta(), nextId: n + 1 });
    return formatGeneratedId(n);
  }

  /** Validates a sample against the store's model; adopts the model when the store has none. */
  private prepareSample(personId: string, input: SampleInput): { rec: SampleRecord; adoptModel: boolean } {
    if (!input || typeof input.modelId !== 'string' || !input.modelId) {
      throw new StoreError('EDESCRIPTOR', 'a sample needs the id of the model that computed its descriptor');
    }
    if (this.store.meta().modelId && input.modelId !== this.store.meta().modelId) {
      throw new StoreError(
        'EMODEL_MISMATCH',
        `descriptor was made by model ${input.modelId}, but face store ${this.store.file} holds descriptors of model ${this.store.meta().modelId}; ` +
          'refusing to mix them (run `facewatch reembed` to move the store to the new model)',
        { modelId: input.modelId, storeModelId: this.store.meta().modelId },
      );
    }
    const descriptor = toDescriptor(input.descriptor, this.store.meta().dim);
    const id = sampleIdFor(input.id, (s) =>
      [...this.store.people.values()].some((p) => p.samples.some((x) => x.id === s)),
    );
    const rec: SampleRecord = {
      id,
      descriptor,
      modelId: input.modelId,
      image: input.crop ? this.store.crops.relative(personId, `${id}.jpg`) : null,
      source: typeof input.source === 'string' ? input.source.slice(0, 500) : '',
      time: input.time ?? new Date().toISOString(),
    };
    return { rec, adoptModel: !this.store.meta().modelId };
  }

  /** Writes a new sample's crop, when it has one. */
  private async writeImage(rec: SampleRecord, crop: Buffer | undefined): Promise<void> {
    const ref = rec.image && this.store.crops.parse(rec.image);
    if (!crop || !ref) return;
    try {
      await this.store.crops.write(ref.key, ref.name, crop);
    } catch (err) {
      throw new StoreError(
        'EWRITE',
        `face store ${this.store.file}: the face image could not be written: ${messageOf(err)}; nothing was changed`,
        { errno: errorCode(err) },
      );
    }
  }

  /** Deletes a sample's crop, and the person's folder when no other crop is left in it. */
  private async dropImage(rec: SampleRecord): Promise<void> {
    const ref = rec.image && this.store.crops.parse(rec.image);
    if (ref) await this.store.crops.remove(ref.key, ref.name);
  }

  /** Gives the store the model of its first sample. */
  private async adopt(rec: SampleRecord): Promise<void> {
    await this.store.saveMeta({ ...this.store.meta(), modelId: rec.modelId, dim: rec.descriptor.length });
    this.store.matcher.adopt(rec.descriptor.length);
  }

  /** A person in memory; `ENOTFOUND` when there is none. */
  private get(id: string): PersonRecord {
    const p = this.store.people.get(String(id));
    if (!p)
      throw new StoreError('ENOTFOUND', `no person with id ${String(id)} in face store ${this.store.file}`, {
        id,
      });
    return p;
  }
}
