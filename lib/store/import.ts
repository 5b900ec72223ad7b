/**
 * Bulk enrolment: from a folder with a sub-folder per person, from a CSV or JSON manifest
 * (`id,name,metadata,photo`, the original system's guest-book import), from the original system's
 * `face_recognition_data/registered_faces/<PERSON_ID>_<name>.jpg` files (its pickle cannot be read
 * from Node: the photos are embedded again, ids and names kept), or from a FaceWatch JSON export.
 * Every row is reported: enrolled, duplicate, or refused with the reason.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { keyTable } from '../types/keys';
import { Enroller, type EnrolEngine, type EnrolOptions } from './enrol';
import { StoreError } from './errors';
import type { OpenStore } from './types';
import { summarise, type ImportReport, type ImportRow } from './report';

export { summarise, type ImportReport, type ImportRow } from './report';

/** Kinds of import source. */
export type ImportKind = 'folders' | 'manifest' | 'legacy' | 'export';

/** Options of a bulk import. */
export interface ImportOptions {
  /** Enrolment settings; an import refuses ids that exist by default (re-running it reports duplicates). */
  enrol?: Partial<EnrolOptions>;
  actor?: string;
  /** Called after each row, for progress. */
  onRow?: (row: ImportRow) => void;
}

/** A report with the kind of source that was read. */
export interface SourceImportReport extends ImportReport {
  kind: ImportKind;
  source: string;
}

const PHOTO_RE = /\.(png|jpe?g|webp)$/i;
/** The original system's file names: `<PERSON_ID>_<name>.<ext>`. */
const LEGACY_RE = /^(PERSON_\d+)_(.+)\.(png|jpe?g|webp)$/i;

/** One row of a manifest. */
export interface ManifestRow {
  /** `line N` (CSV) or `entry N` (JSON). */
  row: string;
  id?: string;
  name?: string;
  metadata?: Record<string, unknown>;
  photo?: string;
}

/** Parses CSV text (RFC 4180: quoted fields, doubled quotes, CRLF or LF, optional BOM) into records. */
export function parseCsv(text: string): Array<{ line: number; fields: string[] }> {
  const out: Array<{ line: number; fields: string[] }> = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let fields: string[] = [];
  let field = '';
  let start = line;
  let quoted = false;
  const endRecord = (): void => {
    fields.push(field);
    if (fields.length > 1 || fields[0] !== '') out.push({ line: start, fields });
    fields = [];
    field = '';
  };
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else field += c;
  }
  if (quoted)
    throw new StoreError('EIMPORT_FORMAT', `CSV: a quoted field opened on line ${start} is never closed`);
  if (field !== '' || fields.length) endRecord();
  return out;
}

/**
 * The metadata column: a JSON object, or `key=value` pairs separated by `;`, or else free text
 * kept as `{note: text}` (the original's guest book had a free-text column).
 */
export function parseMetadataCell(cell: string | undefined): Record<string, unknown> | undefined {
  const text = (cell ?? '').trim();
  if (!text) return undefined;
  if (text.startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (err) {
      throw new StoreError('EINVALID_METADATA', `metadata is not valid JSON: ${(err as Error).message}`);
    }
    if (!v || typeof v !== 'object' || Array.isArray(v))
      throw new StoreError('EINVALID_METADATA', 'metadata JSON must be an object');
    return v as Record<string, unknown>;
  }
  if (/^[^=;]+=/.test(text)) {
    // Without a prototype, a `__proto__=...` pair is a key like any other (and refused with a
    // clear message by sanitiseMetadata) instead of silently changing the object.
    const out = keyTable<unknown>();
    for (const part of text.split(';')) {
      const eq = part.indexOf('=');
      if (eq <= 0) continue;
      out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
    return out;
  }
  return { note: text };
}

/** Reads a CSV or JSON manifest into rows. Throws EIMPORT_FORMAT for an unusable file. */
export async function readManifest(file: string): Promise<ManifestRow[]> {
  const text = await readFile(file, 'utf8');
  if (/\.json$/i.test(file)) {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new StoreError('EIMPORT_FORMAT', `${file} is not valid JSON: ${(err as Error).message}`);
    }
    const list = Array.isArray(data) ? data : (data as { people?: unknown })?.people;
    if (!Array.isArray(list))
      throw new StoreError('EIMPORT_FORMAT', `${file}: expected a list of {id, name, metadata, photo}`);
    return list.map((e: Record<string, unknown>, i) => ({
      row: `entry ${i + 1}`,
      id: e?.id === undefined || e?.id === null ? undefined : String(e.id as string | number),
      name: typeof e?.name === 'string' ? e.name : undefined,
      metadata:
        e?.metadata && typeof e.metadata === 'object'
          ? (e.metadata as Record<string, unknown>)
          : parseMetadataCell(typeof e?.metadata === 'string' ? e.metadata : undefined),
      photo: typeof e?.photo === 'string' ? e.photo : undefined,
    }));
  }
  const records = parseCsv(text);
  if (!records.length) throw new StoreError('EIMPORT_FORMAT', `${file} is empty`);
  const header = records[0].fields.map((h) => h.trim().toLowerCase());
  const col = (name: string): number => header.indexOf(name);
  if (col('photo') < 0 || (col('name') < 0 && col('id') < 0)) {
    throw new StoreError(
      'EIMPORT_FORMAT',
      `${file}: the first line must name the columns id,name,metadata,photo (got ${header.join(',')})`,
    );
  }
  return records.slice(1).map(({ line, fields }) => {
    const get = (name: string): string | undefined =>
      col(name) >= 0 ? fields[col(name)]?.trim() || undefined : undefined;
    const row: ManifestRow = { row: `line ${line}`, id: get('id'), name: get('name'), photo: get('photo') };
    try {
      row.metadata = parseMetadataCell(get('metadata'));
    } catch (err) {
      // Reported as the row's refusal: keep the message on the row.
      (row as ManifestRow & { error?: string }).error = (err as Error).message;
    }
    return row;
  });
}

/** Decides what kind of source a path is. */
export async function detectKind(source: string): Promise<ImportKind> {
  const s = await stat(source).catch(() => null);
  if (!s) throw new StoreError('ENOFILE', `import source ${source} not found`);
  if (s.isFile()) {
    if (/\.json$/i.test(source)) {
      const head = (await readFile(source, 'utf8')).slice(0, 4096);
      return /"format"\s*:\s*"facewatch-store"/.test(head) ? 'export' : 'manifest';
    }
    if (/\.csv$/i.test(source)) return 'manifest';
    throw new StoreError(
      'EIMPORT_FORMAT',
      `import source ${source}: expected a folder, a .csv or .json manifest, or a FaceWatch export`,
    );
  }
  if (legacyFolder(source)) return 'legacy';
  return 'folders';
}

/** The original system's photo folder inside `dir`, or null. */
function legacyFolder(dir: string): string | null {
  for (const candidate of [
    path.join(dir, 'face_recognition_data', 'registered_faces'),
    path.join(dir, 'registered_faces'),
  ]) {
    if (existsSync(candidate)) return candidate;
  }
  return path.basename(dir) === 'registered_faces' ? dir : null;
}

function rowFromError(row: string, err: unknown, extra: Partial<ImportRow> = {}): ImportRow {
  const e = err as Error & { code?: string; details?: { duplicateOf?: ImportRow['duplicateOf'] } };
  const duplicate = e.code === 'EDUPLICATE' || e.code === 'EEXISTS';
  return {
    row,
    ...extra,
    status: duplicate ? 'duplicate' : 'refused',
    reason: e.message,
    code: e.code ?? 'EIMAGE',
    ...(e.details?.duplicateOf ? { duplicateOf: e.details.duplicateOf } : {}),
  };
}

/**
 * Imports a source into a store. Manifest and legacy rows that name an existing id are reported
 * as duplicates unless `enrol.existing` says otherwise; in a folder import, the first usable photo
 * of a sub-folder enrols the person and the others become samples.
 */
export async function importSource(
  store: OpenStore,
  engine: EnrolEngine | null,
  source: string,
  opts: ImportOptions = {},
): Promise<SourceImportReport> {
  const kind = await detectKind(source);
  if (kind === 'export') {
    const report = await store.importJson(JSON.parse(await readFile(source, 'utf8')), opts.actor);
    report.rows.forEach((r) => opts.onRow?.(r));
    return { ...report, kind, source };
  }
  if (!engine) throw new StoreError('EIMPORT_FORMAT', `importing photos from ${source} needs a face engine`);
  const enroller = new Enroller(store, engine, { existing: 'refuse', ...opts.enrol });
  const rows: ImportRow[] = [];
  const push = (r: ImportRow): void => {
    rows.push(r);
    opts.onRow?.(r);
  };
  const enrolFile = async (
    row: string,
    file: string,
    fields: { id?: string; name?: string; metadata?: Record<string, unknown> },
    existing?: EnrolOptions['existing'],
  ): Promise<ImportRow> => {
    let image: Buffer;
    try {
      image = await readFile(file);
    } catch {
      return {
        row,
        id: fields.id,
        name: fields.name,
        status: 'refused',
        code: 'ENOFILE',
        reason: `photo ${file} not found or unreadable`,
      };
    }
    try {
      const r = await enroller.enrol(
        {
          image,
          fileName: file,
          id: fields.id,
          name: fields.name,
          metadata: fields.metadata,
          source: `import:${path.basename(file)}`,
          actor: opts.actor,
        },
        existing ? { existing } : {},
      );
      if (r.status === 'sample-added' && r.duplicateOf) {
        return {
          row,
          id: r.person.id,
          name: r.person.name,
          status: 'duplicate',
          reason: `added as a sample of ${r.person.name} (${r.person.id}), distance ${r.duplicateOf.distance.toFixed(3)}`,
          duplicateOf: r.duplicateOf,
        };
      }
      return { row, id: r.person.id, name: r.person.name, status: 'enrolled' };
    } catch (err) {
      return rowFromError(row, err, { id: fields.id, name: fields.name });
    }
  };

  if (kind === 'manifest') {
    const base = path.dirname(path.resolve(source));
    for (const m of await readManifest(source)) {
      const error = (m as ManifestRow & { error?: string }).error;
      if (error)
        push({
          row: m.row,
          id: m.id,
          name: m.name,
          status: 'refused',
          code: 'EINVALID_METADATA',
          reason: error,
        });
      else if (!m.photo)
        push({
          row: m.row,
          id: m.id,
          name: m.name,
          status: 'refused',
          code: 'ENOFILE',
          reason: 'no photo given',
        });
      else push(await enrolFile(`${m.row} (${m.photo})`, path.resolve(base, m.photo), m));
    }
  } else if (kind === 'legacy') {
    const dir = legacyFolder(source) as string;
    for (const name of (await readdir(dir)).sort()) {
      const file = path.join(dir, name);
      const m = LEGACY_RE.exec(name);
      if (!m) {
        if (PHOTO_RE.test(name))
          push({
            row: name,
            status: 'refused',
            code: 'EIMPORT_FORMAT',
            reason: 'file name is not <PERSON_ID>_<name>.<ext>',
          });
        continue;
      }
      push(await enrolFile(name, file, { id: m[1], name: m[2].replace(/_/g, ' ') }));
    }
  } else {
    const entries = (await readdir(source, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    for (const e of entries) {
      if (e.isFile() && PHOTO_RE.test(e.name)) {
        push({
          row: e.name,
          status: 'refused',
          code: 'EIMPORT_FORMAT',
          reason: 'photo is not inside a person sub-folder',
        });
      }
      if (!e.isDirectory()) continue;
      const folder = path.join(source, e.name);
      let personId: string | undefined;
      for (const f of (await readdir(folder)).sort()) {
        const file = path.join(folder, f);
        if (!(await stat(file)).isFile()) continue;
        const row = `${e.name}/${f}`;
        if (!PHOTO_RE.test(f)) {
          push({
            row,
            name: e.name,
            status: 'refused',
            code: 'EFILETYPE',
            reason: 'not a png, jpg, jpeg or webp file',
          });
          continue;
        }
        const r = await enrolFile(
          row,
          file,
          personId ? { id: personId } : { name: e.name.replace(/_/g, ' ') },
          personId ? 'add-sample' : undefined,
        );
        if (r.status === 'enrolled' && !personId) personId = r.id;
        push(r);
      }
    }
  }
  const report = summarise(rows);
  await store.recordAudit(
    'import',
    {
      source: path.basename(source),
      kind,
      enrolled: report.enrolled,
      duplicate: report.duplicate,
      refused: report.refused,
    },
    opts.actor,
  );
  return { ...report, kind, source };
}
