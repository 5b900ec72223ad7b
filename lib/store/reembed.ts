/**
 * Re-embedding: moving a store to a new recognition model by recomputing every sample's
 * descriptor from its stored crop. Used through {@link FaceStore.reembed} (`facewatch reembed`).
 */
import { readFile } from 'node:fs/promises';
import { toDescriptor } from './codec';
import { DescriptorIndex } from './descriptor-index';
import { publicPerson, publicSample, type PersonRecord } from './documents';
import { StoreError } from './errors';
import type { SampleInfo } from './types';
import type { StoreInternals } from './internals';

/** Computes a descriptor from a crop; null when it finds no face. */
export type ReembedCompute = (
  crop: Buffer,
  sample: SampleInfo,
) => Promise<{ descriptor: ArrayLike<number>; modelId: string } | null>;

/** A sample reembed could not recompute. */
export interface ReembedFailure {
  id: string;
  sampleId: string;
  reason: string;
}

/** Outcome of {@link FaceStore.reembed}. */
export interface ReembedResult {
  /** The store's model id afterwards. */
  modelId: string | null;
  /** Samples recomputed (0 when nothing changed). */
  samples: number;
  failed: ReembedFailure[];
}

/** See {@link FaceStore.reembed}. */
export function reembedStore(
  store: StoreInternals,
  compute: ReembedCompute,
  opts: { dropFailed?: boolean; actor?: string } = {},
): Promise<ReembedResult> {
  return store.batch(async (tx) => {
    const updates = new Map<string, { descriptor: Float32Array; modelId: string }>();
    const failed: ReembedFailure[] = [];
    let modelId: string | null = null;
    let dim: number | null = null;
    for (const p of store.people.values()) {
      for (const s of p.samples) {
        const file = store.imagePath(s);
        let reason = '';
        if (!file) reason = 'no crop stored';
        else {
          let crop: Buffer | null = null;
          try {
            crop = await readFile(file);
          } catch {
            reason = `crop ${file} cannot be read`;
          }
          if (crop) {
            const r = await compute(crop, publicSample(s)).catch((err: Error) => {
              reason = err.message;
              return null;
            });
            if (r) {
              if (modelId && r.modelId !== modelId)
                throw new StoreError(
                  'EMODEL_MISMATCH',
                  `reembed produced two model ids (${modelId}, ${r.modelId})`,
                );
              modelId = r.modelId;
              const desc = toDescriptor(r.descriptor, dim);
              dim = desc.length;
              updates.set(s.id, { descriptor: desc, modelId: r.modelId });
            } else reason ||= 'no face found in the crop';
          }
        }
        if (reason) failed.push({ id: p.id, sampleId: s.id, reason });
      }
    }
    // All or nothing, unless the caller chose to drop what failed.
    if (failed.length && !opts.dropFailed) return { modelId: store.meta().modelId, samples: 0, failed };
    for (const f of failed) await tx.removeSample(f.id, f.sampleId, opts.actor);
    if (!modelId || !dim) return { modelId: store.meta().modelId, samples: 0, failed };
    const from = store.meta().modelId;
    const index = new DescriptorIndex(dim);
    const changed: PersonRecord[] = [];
    const newModel = { modelId, dim };
    // All or nothing on disk too: a full disk half-way must not leave two models in the datafile.
    await store.unit(
      async () => {
        for (const p of store.people.values()) {
          const next: PersonRecord = {
            ...p,
            samples: p.samples.map((s) => {
              const u = updates.get(s.id);
              return u ? { ...s, descriptor: u.descriptor, modelId: u.modelId } : s;
            }),
            updatedAt: new Date().toISOString(),
          };
          await store.replace(next);
          for (const s of next.samples) index.add(next.id, s.id, s.descriptor);
          changed.push(next);
        }
        await store.saveMeta({ ...store.meta(), ...newModel });
        store.useIndex(index);
        await store.compact();
      },
      { people: true },
    );
    store.log(
      'reembed',
      opts.actor,
      {},
      { from, to: modelId, samples: updates.size, dropped: failed.length },
    );
    for (const p of changed) store.emit('person-updated', publicPerson(p));
    store.emit('model-changed', { from, to: modelId });
    return { modelId, samples: updates.size, failed };
  });
}
