/**
 * The store's records and their NeDB documents: how a person is held in memory (descriptors as
 * Float32Array), how it is written to the datafile (descriptors as base64, metadata as JSON text),
 * how loaded documents are checked, and what callers are shown (copies without descriptors).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { DocRewrite, RawDoc } from './backups';
import { decodeDescriptor, encodeDescriptor } from './codec';
import type { Person, Sample, SampleInfo } from './types';

/** A sample in memory: descriptor included. */
export type SampleRecord = Sample;

/** A person in memory: samples with their descriptors. */
export interface PersonRecord extends Omit<Person, 'samples'> {
  samples: SampleRecord[];
}

/** A sample inside a person's document. */
export interface SampleDoc {
  id: string;
  /** Base64 float32 descriptor. */
  d: string;
  m: string;
  image: string | null;
  source: string;
  time: string;
}

/** A person's document: one per person, samples inside. */
export interface PersonDoc {
  _id: string;
  kind: 'person';
  name: string;
  /** JSON text: NeDB refuses keys with dots or a leading `$`, which user metadata may have. */
  metadata: string;
  samples: SampleDoc[];
  createdAt: string;
  updatedAt: string;
}

/** The meta document's id contains `#`, which person ids cannot. */
export const META_ID = '#meta';

/** The store's one meta document: id counter and the model whose descriptors the store holds. */
export interface MetaDoc {
  _id: typeof META_ID;
  kind: 'meta';
  version: 1;
  nextId: number;
  modelId: string | null;
  dim: number | null;
  createdAt: string;
}

/** The meta document of a new store. */
export function newMeta(): MetaDoc {
  return {
    _id: META_ID,
    kind: 'meta',
    version: 1,
    nextId: 1,
    modelId: null,
    dim: null,
    createdAt: new Date().toISOString(),
  };
}

export function toDoc(p: PersonRecord): PersonDoc {
  return {
    _id: p.id,
    kind: 'person',
    name: p.name,
    metadata: JSON.stringify(p.metadata),
    samples: p.samples.map((s) => ({
      id: s.id,
      d: encodeDescriptor(s.descriptor),
      m: s.modelId,
      image: s.image,
      source: s.source,
      time: s.time,
    })),
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

function fromDoc(doc: RawDoc): PersonRecord {
  const d = doc as unknown as PersonDoc;
  if (typeof d._id !== 'string' || typeof d.name !== 'string' || !Array.isArray(d.samples)) {
    throw new Error(`document ${String(doc._id)} is not a person`);
  }
  return {
    id: d._id,
    name: d.name,
    metadata: (d.metadata ? JSON.parse(d.metadata) : {}) as Record<string, unknown>,
    samples: d.samples.map((s) => ({
      id: s.id,
      descriptor: decodeDescriptor(s.d),
      modelId: s.m,
      image: s.image ?? null,
      source: s.source ?? '',
      time: s.time,
    })),
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

/**
 * Splits the documents of a loaded datafile into the meta document (null for a new store) and
 * the people, and checks them: every document must read as a person, and every sample must be
 * of the store's model. Throws an Error whose message starts with `document ` or `sample `,
 * naming the first bad one.
 */
export function readDocuments(docs: RawDoc[]): { meta: MetaDoc | null; people: PersonRecord[] } {
  let meta: MetaDoc | null = null;
  const people: PersonRecord[] = [];
  for (const doc of docs) {
    if (doc._id === META_ID) {
      meta = doc as unknown as MetaDoc;
      continue;
    }
    try {
      people.push(fromDoc(doc));
    } catch (err) {
      throw new Error(`document ${String(doc._id)}: ${(err as Error).message}`);
    }
  }
  const modelId = meta?.modelId;
  if (modelId) {
    for (const p of people) {
      const s = p.samples.find((x) => x.modelId !== modelId);
      if (s)
        throw new Error(
          `sample ${s.id} of ${p.id} was made by model ${s.modelId}, the store holds ${modelId}`,
        );
    }
  }
  return { meta, people };
}

/** The 1-based numbers of the lines of a datafile that are not JSON, for the corruption message. */
export function corruptLines(file: string): number[] {
  const bad: number[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line === '') return;
    try {
      JSON.parse(line);
    } catch {
      bad.push(i + 1);
    }
  });
  return bad;
}

/**
 * Text that every datafile line of the person's document contains (the serialised `_id`), so a
 * backup rewrite can pass the other lines through without parsing them.
 */
export function mentionsPerson(id: string): string {
  return `"_id":${JSON.stringify(id)}`;
}

/** A backup rewrite that drops a person's document. */
export function withoutPerson(id: string): DocRewrite {
  return (doc) => (doc._id === id ? null : doc);
}

/** A backup rewrite that drops one sample from a person's document. */
export function withoutSample(id: string, sampleId: string): DocRewrite {
  return (doc) => {
    if (doc._id !== id || !Array.isArray(doc.samples)) return doc;
    const kept = (doc.samples as SampleDoc[]).filter((x) => x.id !== sampleId);
    return kept.length === doc.samples.length ? doc : { ...doc, samples: kept };
  };
}

/** A sample as callers see it: no descriptor. */
export function publicSample(s: SampleRecord): SampleInfo {
  return { id: s.id, modelId: s.modelId, image: s.image, source: s.source, time: s.time };
}

/** A person as callers see it: a copy, without descriptors. */
export function publicPerson(p: PersonRecord): Person {
  return {
    id: p.id,
    name: p.name,
    metadata: structuredClone(p.metadata),
    samples: p.samples.map(publicSample),
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

/** A sample as events carry it: with a copy of its descriptor. */
export function eventSample(s: SampleRecord): Sample {
  return { ...publicSample(s), descriptor: s.descriptor.slice() };
}

/** When a new person was enrolled: an import's time when it is an ISO time not in the future, else now. */
export function enrolledAt(given: unknown, now: string): string {
  if (typeof given !== 'string' || !/^\d{4}-\d{2}-\d{2}T[\d:.]+Z$/.test(given)) return now;
  const t = Date.parse(given);
  return Number.isFinite(t) && t <= Date.parse(now) ? new Date(t).toISOString() : now;
}

/** A new sample id: 16 hex digits. */
export function newSampleId(): string {
  return randomBytes(8).toString('hex');
}

/**
 * The id of a new sample: the one an import brings (so that a moved store keeps its sample ids),
 * when it is one this store could have made and no sample of the store has it; a new one otherwise.
 */
export function sampleIdFor(given: unknown, taken: (id: string) => boolean): string {
  return typeof given === 'string' && /^[0-9a-f]{16}$/.test(given) && !taken(given) ? given : newSampleId();
}
