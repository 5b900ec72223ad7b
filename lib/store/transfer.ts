/**
 * The JSON export format (`facewatch-store`, version 1): a whole store, descriptors, model id and
 * optionally the face crops, for moving it to another installation. Used through
 * {@link FaceStore.exportJson} and {@link FaceStore.importJson}.
 */
import { readFile } from 'node:fs/promises';
import { sanitiseId, toDescriptor } from './codec';
import { StoreError } from './errors';
import type { SampleInput } from './types';
import { summarise, type ImportReport, type ImportRow } from './report';
import type { StoreInternals } from './internals';

/** The whole store as JSON, for moving between installations. */
export interface StoreExport {
  format: 'facewatch-store';
  version: 1;
  exportedAt: string;
  modelId: string | null;
  nextId: number;
  people: Array<{
    id: string;
    name: string;
    metadata: Record<string, unknown>;
    createdAt: string;
    updatedAt: string;
    samples: Array<{
      id: string;
      modelId: string;
      descriptor: number[];
      source: string;
      time: string;
      /** Base64 JPEG crop, when exported with images. */
      image?: string;
    }>;
  }>;
}

type ExportedPerson = StoreExport['people'][number];
type ExportedSample = ExportedPerson['samples'][number];

/** See {@link FaceStore.exportJson}. */
export async function exportStore(
  store: StoreInternals,
  opts: { images?: boolean; actor?: string } = {},
): Promise<StoreExport> {
  store.assertOpen();
  const people: StoreExport['people'] = [];
  for (const p of store.people.values()) {
    const samples: ExportedSample[] = [];
    for (const s of p.samples) {
      const out: ExportedSample = {
        id: s.id,
        modelId: s.modelId,
        descriptor: Array.from(s.descriptor),
        source: s.source,
        time: s.time,
      };
      const file = store.imagePath(s);
      if (opts.images !== false && file) {
        try {
          out.image = (await readFile(file)).toString('base64');
        } catch {
          // A crop lost on disk: export the descriptor anyway; reembed will report the sample.
        }
      }
      samples.push(out);
    }
    people.push({
      id: p.id,
      name: p.name,
      metadata: structuredClone(p.metadata),
      createdAt: p.createdAt,
      updatedAt: p.updatedAt,
      samples,
    });
  }
  store.log('export', opts.actor, {}, { people: people.length, images: opts.images !== false });
  await store.flushAudit();
  const meta = store.meta();
  return {
    format: 'facewatch-store',
    version: 1,
    exportedAt: new Date().toISOString(),
    modelId: meta.modelId,
    nextId: meta.nextId,
    people,
  };
}

function toSampleInput(s: ExportedSample): SampleInput {
  return {
    descriptor: s.descriptor,
    modelId: s.modelId,
    crop: typeof s.image === 'string' ? Buffer.from(s.image, 'base64') : undefined,
    source: s.source,
    time: s.time,
  };
}

/** See {@link FaceStore.importJson}. */
export async function importStore(
  store: StoreInternals,
  data: unknown,
  actor?: string,
): Promise<ImportReport> {
  store.assertOpen();
  const d = data as Partial<StoreExport> | null;
  if (!d || d.format !== 'facewatch-store' || !Array.isArray(d.people)) {
    throw new StoreError(
      'EIMPORT_FORMAT',
      'not a FaceWatch store export (expected {"format": "facewatch-store", "people": [...]})',
    );
  }
  const people = d.people;
  return store.batch(async (tx) => {
    const rows: ImportRow[] = [];
    for (const [i, p] of people.entries()) {
      const row = `person ${typeof p?.id === 'string' ? p.id : `#${i + 1}`}`;
      try {
        const id = sanitiseId(p.id);
        if (store.people.has(id)) {
          rows.push({
            row,
            status: 'duplicate',
            id,
            name: p.name,
            reason: `id ${id} already exists (${store.people.get(id)?.name})`,
          });
          continue;
        }
        const samples = Array.isArray(p.samples) ? p.samples : [];
        // Check every sample before writing any: a refused person leaves nothing behind.
        for (const s of samples) {
          const meta = store.meta();
          const storeModel = meta.modelId ?? samples[0]?.modelId;
          if (s.modelId !== storeModel) {
            throw new StoreError(
              'EMODEL_MISMATCH',
              `sample ${s.id} was made by model ${s.modelId}, the store holds ${storeModel}`,
            );
          }
          toDescriptor(s.descriptor, meta.dim ?? samples[0]?.descriptor?.length);
        }
        await tx.addPerson(
          { id, name: p.name, metadata: p.metadata },
          samples[0] ? toSampleInput(samples[0]) : undefined,
          actor,
        );
        for (const s of samples.slice(1)) await tx.addSample(id, toSampleInput(s), actor);
        rows.push({ row, status: 'enrolled', id, name: store.people.get(id)?.name });
      } catch (err) {
        rows.push({
          row,
          status: 'refused',
          id: typeof p?.id === 'string' ? p.id : undefined,
          name: p?.name,
          reason: (err as Error).message,
          code: (err as StoreError).code,
        });
      }
    }
    const meta = store.meta();
    if (typeof d.nextId === 'number' && d.nextId > meta.nextId)
      await store.saveMeta({ ...meta, nextId: d.nextId });
    const report = summarise(rows);
    store.log(
      'import',
      actor,
      {},
      { source: 'json', enrolled: report.enrolled, duplicate: report.duplicate, refused: report.refused },
    );
    return report;
  });
}
