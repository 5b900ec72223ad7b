/**
 * Small pure helpers of the store: descriptor encoding, id and name sanitising, id generation.
 */
import { RESERVED_KEYS, reservedKeyProblem } from '../types/keys';
import { StoreError } from './errors';

/**
 * Descriptors are stored as base64 of their little-endian float32 bytes: exact (no decimal
 * round-trip), about 3.5 times smaller than a JSON number list and fast to load for large stores.
 */
export function encodeDescriptor(d: Float32Array): string {
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64');
}

/** Inverse of {@link encodeDescriptor}; returns a fresh, aligned Float32Array. */
export function decodeDescriptor(s: string): Float32Array {
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length === 0 || bytes.length % 4 !== 0) {
    throw new StoreError('EDESCRIPTOR', 'stored descriptor is not a whole number of float32 values');
  }
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/**
 * Checks a descriptor given by a caller (number[] from JSON or a Float32Array) and returns a copy
 * as Float32Array. Refuses empty, non-finite or wrongly sized input.
 */
export function toDescriptor(input: ArrayLike<number>, dim?: number | null): Float32Array {
  if (!input || typeof input.length !== 'number' || input.length === 0) {
    throw new StoreError('EDESCRIPTOR', 'descriptor must be a non-empty list of numbers');
  }
  if (dim && input.length !== dim) {
    throw new StoreError(
      'EDESCRIPTOR',
      `descriptor has ${input.length} values, the store's model uses ${dim}`,
    );
  }
  const out = Float32Array.from(input);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]))
      throw new StoreError('EDESCRIPTOR', `descriptor value ${i} is not a finite number`);
  }
  return out;
}

/** Ids are used as folder names: letters, digits, `_`, `-` and `.`, 1-64 characters, not starting with `.` or `-`. */
const ID_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/**
 * Validates a person id. Ids name image folders, so anything that could escape the images
 * folder or be read differently by another file system (slashes, `..`, spaces, control or
 * non-ASCII characters) is refused rather than silently rewritten: a silently changed id
 * would not be the id the user asked for. Ids are keys of tables everywhere (statistics, topics,
 * lookups), so the keys that reach an object's prototype (`__proto__`, `constructor`,
 * `prototype`, any case) are refused too.
 */
export function sanitiseId(raw: unknown): string {
  if (typeof raw !== 'string' && typeof raw !== 'number') {
    throw new StoreError('EINVALID_ID', 'person id must be a string');
  }
  const id = String(raw).trim();
  if (!ID_RE.test(id) || id.includes('..')) {
    throw new StoreError(
      'EINVALID_ID',
      `invalid person id "${id.slice(0, 80)}": use 1-64 letters, digits, "_", "-" or "." (not starting with "." or "-", no "..")`,
    );
  }
  const reserved = reservedKeyProblem('person id', id);
  if (reserved) throw new StoreError('EINVALID_ID', reserved);
  return id;
}

/**
 * Normalises a display name: Unicode NFC, control characters removed, white space collapsed,
 * at most 100 characters. Names never become file names (images are stored under the id), but
 * they are used as keys (MQTT topics, Home Assistant names), so the keys that reach an object's
 * prototype are refused.
 */
export function sanitiseName(raw: unknown): string {
  if (typeof raw !== 'string') throw new StoreError('EINVALID_NAME', 'name must be a string');
  const name = raw
    .normalize('NFC')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (!name) throw new StoreError('EINVALID_NAME', 'name is empty');
  if (name.length > 100) throw new StoreError('EINVALID_NAME', `name is longer than 100 characters`);
  const reserved = reservedKeyProblem('name', name);
  if (reserved) throw new StoreError('EINVALID_NAME', reserved);
  return name;
}

/**
 * Metadata must be a plain JSON object of modest size (it is stored and sent with every match),
 * without the keys that reach an object's prototype at any depth (a later merge of it into
 * another object must not be able to change that object's prototype).
 */
export function sanitiseMetadata(raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new StoreError('EINVALID_METADATA', 'metadata must be an object');
  }
  let json: string;
  try {
    json = JSON.stringify(raw);
  } catch (err) {
    throw new StoreError('EINVALID_METADATA', `metadata is not JSON: ${(err as Error).message}`);
  }
  if (json.length > 16384) throw new StoreError('EINVALID_METADATA', 'metadata is larger than 16 KB as JSON');
  // JSON.parse makes `__proto__` an own key (never the prototype), so every key is seen here.
  return JSON.parse(json, (key, value: unknown) => {
    if (RESERVED_KEYS.includes(key))
      throw new StoreError(
        'EINVALID_METADATA',
        `metadata key "${key}" is reserved (${RESERVED_KEYS.join(', ')} cannot be used)`,
      );
    return value;
  }) as Record<string, unknown>;
}

/** Prefix and width of generated ids: PERSON_0001, as the original system. */
const GENERATED_ID_RE = /^PERSON_(\d{1,9})$/;

export function formatGeneratedId(n: number): string {
  return `PERSON_${String(n).padStart(4, '0')}`;
}

/** The number of a generated-looking id (PERSON_0042 → 42), or null. */
export function generatedIdNumber(id: string): number | null {
  const m = GENERATED_ID_RE.exec(id);
  return m ? Number(m[1]) : null;
}
