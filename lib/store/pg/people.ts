/**
 * People and their samples in PostgreSQL: the rows and the records in memory (documents.ts's
 * `PersonRecord`, the same the NeDB store keeps), read and written on one connection.
 *
 * Descriptors are stored exactly: the bytes of their float32 values (little-endian, as every machine
 * FaceWatch runs on) in `bytea`, with their model id; a face crop is the sample's `image` bytea, and in
 * memory a sample with one names it as the NeDB store does (`<person>/<sample>.jpg`), so the Face
 * Library's addresses read the same on either backend. The writes do not open transactions: the store
 * runs each change as one, with its change number (feed.ts).
 */
import type { PersonRecord, SampleRecord } from '../documents';
import { StoreError } from '../errors';
import { schemaIdentifier, type SqlClient } from './schema';

/** The store's meta row: the id counter and the model its descriptors belong to. */
export interface PgMeta {
  nextId: number;
  modelId: string | null;
  dim: number | null;
}

/** The bytes of a descriptor's float32 values, copied. */
export function descriptorBytes(d: Float32Array): Buffer {
  return Buffer.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
}

/** A descriptor from its stored bytes: a fresh, aligned Float32Array. */
export function descriptorOf(bytes: Buffer): Float32Array {
  if (bytes.length === 0 || bytes.length % 4 !== 0)
    throw new StoreError('EDESCRIPTOR', 'stored descriptor is not a whole number of float32 values');
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** The relative name a sample's crop has in memory (as in the NeDB store's images folder). */
export function imageName(personId: string, sampleId: string): string {
  return `${personId}/${sampleId}.jpg`;
}

interface PersonRow {
  id: string;
  name: string;
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

interface SampleRow {
  id: string;
  person_id: string;
  descriptor: Buffer;
  model_id: string;
  has_image: boolean;
  source: string;
  time: Date;
}

const SAMPLE_COLUMNS = `id, person_id, descriptor, model_id, image IS NOT NULL AS has_image, source, time`;

function toSample(r: SampleRow): SampleRecord {
  return {
    id: r.id,
    descriptor: descriptorOf(r.descriptor),
    modelId: r.model_id,
    image: r.has_image ? imageName(r.person_id, r.id) : null,
    source: r.source,
    time: r.time.toISOString(),
  };
}

function toPerson(r: PersonRow, samples: SampleRecord[]): PersonRecord {
  return {
    id: r.id,
    name: r.name,
    metadata: r.metadata ?? {},
    samples,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

/** Every person with their samples (each person's in the order they were added). */
export async function readPeople(client: SqlClient, schema: string): Promise<PersonRecord[]> {
  const id = schemaIdentifier(schema);
  const people = (await client.query(`SELECT * FROM ${id}.people ORDER BY id`))
    .rows as unknown as PersonRow[];
  const samples = (
    await client.query(`SELECT ${SAMPLE_COLUMNS} FROM ${id}.samples ORDER BY person_id, position`)
  ).rows as unknown as SampleRow[];
  const byPerson = new Map<string, SampleRecord[]>();
  for (const s of samples) {
    const list = byPerson.get(s.person_id) ?? [];
    list.push(toSample(s));
    byPerson.set(s.person_id, list);
  }
  return people.map((p) => toPerson(p, byPerson.get(p.id) ?? []));
}

/** One person with their samples, or null when there is none with that id. */
export async function readPerson(
  client: SqlClient,
  schema: string,
  personId: string,
): Promise<PersonRecord | null> {
  const id = schemaIdentifier(schema);
  const rows = (await client.query(`SELECT * FROM ${id}.people WHERE id = $1`, [personId]))
    .rows as unknown as PersonRow[];
  if (!rows.length) return null;
  const samples = (
    await client.query(`SELECT ${SAMPLE_COLUMNS} FROM ${id}.samples WHERE person_id = $1 ORDER BY position`, [
      personId,
    ])
  ).rows as unknown as SampleRow[];
  return toPerson(rows[0], samples.map(toSample));
}

/** The meta row. */
export async function readMeta(client: SqlClient, schema: string): Promise<PgMeta> {
  const { rows } = await client.query(
    `SELECT next_id, model_id, dim FROM ${schemaIdentifier(schema)}.store_meta`,
  );
  const r = rows[0] ?? {};
  return {
    nextId: Number(r.next_id ?? 1),
    modelId: (r.model_id as string | null) ?? null,
    dim: r.dim === null || r.dim === undefined ? null : Number(r.dim),
  };
}

/** Writes the meta row. */
export async function writeMeta(client: SqlClient, schema: string, meta: PgMeta): Promise<void> {
  await client.query(
    `UPDATE ${schemaIdentifier(schema)}.store_meta SET next_id = $1, model_id = $2, dim = $3`,
    [meta.nextId, meta.modelId, meta.dim],
  );
}

/** Inserts a new person and their samples; `images` holds the crops by sample id. */
export async function insertPerson(
  client: SqlClient,
  schema: string,
  p: PersonRecord,
  images: ReadonlyMap<string, Buffer> = new Map(),
): Promise<void> {
  await client.query(
    `INSERT INTO ${schemaIdentifier(schema)}.people (id, name, metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)`,
    [p.id, p.name, JSON.stringify(p.metadata), p.createdAt, p.updatedAt],
  );
  for (const [i, s] of p.samples.entries()) await insertSample(client, schema, p.id, s, i, images.get(s.id));
}

/** Inserts one sample of a person at `position` (its place among the person's samples). */
export async function insertSample(
  client: SqlClient,
  schema: string,
  personId: string,
  s: SampleRecord,
  position: number,
  image?: Buffer,
): Promise<void> {
  await client.query(
    `INSERT INTO ${schemaIdentifier(schema)}.samples (id, person_id, position, descriptor, model_id, image, source, time)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [s.id, personId, position, descriptorBytes(s.descriptor), s.modelId, image ?? null, s.source, s.time],
  );
}

/** Writes a person's name, metadata and time of change. */
export async function updatePersonRow(client: SqlClient, schema: string, p: PersonRecord): Promise<void> {
  await client.query(
    `UPDATE ${schemaIdentifier(schema)}.people SET name = $2, metadata = $3, updated_at = $4 WHERE id = $1`,
    [p.id, p.name, JSON.stringify(p.metadata), p.updatedAt],
  );
}

/** Removes one sample; resolves to whether there was one. */
export async function deleteSample(client: SqlClient, schema: string, sampleId: string): Promise<boolean> {
  const { rows } = await client.query(
    `DELETE FROM ${schemaIdentifier(schema)}.samples WHERE id = $1 RETURNING id`,
    [sampleId],
  );
  return rows.length > 0;
}

/** Removes a person and (by the foreign key) their samples; resolves to whether there was one. */
export async function deletePersonRow(client: SqlClient, schema: string, personId: string): Promise<boolean> {
  const { rows } = await client.query(
    `DELETE FROM ${schemaIdentifier(schema)}.people WHERE id = $1 RETURNING id`,
    [personId],
  );
  return rows.length > 0;
}

/** A sample's face crop, or null (no such sample, or no crop). */
export async function sampleImage(
  client: SqlClient,
  schema: string,
  sampleId: string,
): Promise<Buffer | null> {
  const { rows } = await client.query(`SELECT image FROM ${schemaIdentifier(schema)}.samples WHERE id = $1`, [
    sampleId,
  ]);
  return (rows[0]?.image as Buffer | null | undefined) ?? null;
}
