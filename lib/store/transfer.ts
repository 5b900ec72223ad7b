/**
 * The JSON export format (`facewatch-store`, version 1): a whole store, descriptors, model id and
 * optionally the face crops, for moving it to another installation (a datafile to PostgreSQL and
 * back included). Used through {@link FaceStore.exportJson} and {@link FaceStore.importJson}, and the
 * same methods of the PostgreSQL store.
 */
import { auditEntriesOf, auditKey, type AuditEntry } from './audit';
import { sanitiseId, toDescriptor } from './codec';
import { StoreError } from './errors';
import type { StoreInternals } from './internals';
import type { SampleInput, StoreExport } from './types';

export type { StoreExport } from './types';
import { summarise, type ImportReport, type ImportRow } from './report';

/** What an export and an import need of a store, whichever its backend (the audit as StoreInternals has it). */
export interface TransferHost extends Pick<
  StoreInternals,
  'people' | 'assertOpen' | 'batch' | 'log' | 'flushAudit'
> {
  meta(): { nextId: number; modelId: string | null; dim: number | null };
  /** A sample's crop, or undefined. */
  sampleImage(personId: string, sampleId: string): Promise<Buffer | undefined>;
  /** Makes the next generated id at least `nextId` (inside a batch). */
  raiseNextId(nextId: number): Promise<void>;
  /** The audit, oldest first. */
  readAudit(): Promise<AuditEntry[]>;
  /** Appends entries of another store's audit as they were (time, actor and instance kept). */
  writeAudit(entries: AuditEntry[]): Promise<void>;
}

type ExportedPerson = StoreExport['people'][number];
type ExportedSample = ExportedPerson['samples'][number];

/** See {@link FaceStore.exportJson}. */
export async function exportStore(
  store: TransferHost,
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
      if (opts.images !== false && s.image) {
        // A crop lost on disk: the descriptor is exported anyway; reembed will report the sample.
        const image = await store.sampleImage(p.id, s.id).catch(() => undefined);
        if (image) out.image = image.toString('base64');
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
    audit: await store.readAudit(),
    people,
  };
}

function toSampleInput(s: ExportedSample): SampleInput {
  return {
    id: s.id,
    descriptor: s.descriptor,
    modelId: s.modelId,
    crop: typeof s.image === 'string' ? Buffer.from(s.image, 'base64') : undefined,
    source: s.source,
    time: s.time,
  };
}

/** See {@link FaceStore.importJson}. */
export async function importStore(store: TransferHost, data: unknown, actor?: string): Promise<ImportReport> {
  store.assertOpen();
  const d = data as Partial<StoreExport> | null;
  if (!d || d.format !== 'facewatch-store' || !Array.isArray(d.people)) {
    throw new StoreError(
      'EIMPORT_FORMAT',
      'not a FaceWatch store export (expected {"format": "facewatch-store", "people": [...]})',
    );
  }
  const people = d.people;
  // The exported store's history first (the lines this store does not hold yet: an export imported
  // twice adds it once), then the import's own lines.
  const history = auditEntriesOf(d.audit);
  if (history.length) {
    const held = new Set((await store.readAudit()).map(auditKey));
    const fresh = history.filter((e) => !held.has(auditKey(e)));
    if (fresh.length) await store.writeAudit(fresh);
  }
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
          { id, name: p.name, metadata: p.metadata, createdAt: p.createdAt },
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
    if (typeof d.nextId === 'number' && Number.isSafeInteger(d.nextId) && d.nextId > store.meta().nextId)
      await store.raiseNextId(d.nextId);
    const report = summarise(rows);
    store.log(
      'import',
      actor,
      {},
      {
        source: 'json',
        enrolled: report.enrolled,
        duplicate: report.duplicate,
        refused: report.refused,
        history: history.length,
      },
    );
    return report;
  });
}
