/**
 * Seeded, reproducible random input for the fuzz tests (test/fuzz): a small PRNG (mulberry32), the
 * hostile values a Node-RED message or an HTTP request can carry (wrong types, huge strings, deep and
 * circular objects, Buffers of garbage, NaN and the infinities, prototype keys, path traversal,
 * Unicode oddities), a printer that shows such a value in a failure report without flooding it, and
 * the rule for an error message a user can act on.
 *
 * One seed drives a whole run: `FACEWATCH_FUZZ_SEED` repeats one, else a fresh one is drawn. Each
 * test derives its own stream from the seed and its name, so a test run alone sees the same input.
 */
import { randomInt } from 'node:crypto';
import { mulberry32 } from '../../lib/shared/random';

function parseSeed(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const n = Number(text.trim());
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new Error(`FACEWATCH_FUZZ_SEED must be an integer 0..4294967295, got ${JSON.stringify(text)}`);
  return n;
}

/** The run's seed: `FACEWATCH_FUZZ_SEED`, else drawn now (each test prints it). */
export const FUZZ_SEED: number = parseSeed(process.env.FACEWATCH_FUZZ_SEED) ?? randomInt(0, 0xffffffff);

/** How to repeat a run, for a test's first line and for every failure. */
export function seedLine(fuzz: Fuzz): string {
  return `fuzz seed ${FUZZ_SEED} (stream "${fuzz.label}"): repeat with FACEWATCH_FUZZ_SEED=${FUZZ_SEED}`;
}

/** FNV-1a over a label, mixed with the seed: each test's own stream. */
function derive(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Object keys that reach a prototype, shadow a method, or look like a thenable. */
export const PROTO_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'toJSON',
  'then',
] as const;

/** Strings that have broken software before: traversal, encodings, markup, MQTT wildcards, Unicode. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\t\n',
  '\u0000',
  'a\u0000b',
  ...PROTO_KEYS,
  '__proto__.polluted',
  'constructor.prototype',
  '..',
  '.',
  '../..',
  '../../../../../../etc/passwd',
  '..\\..\\..\\windows\\win.ini',
  '%2e%2e',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '..%2f..%2f..%2fetc%2fpasswd',
  '%252e%252e%252f',
  '%00',
  '%',
  '%zz',
  '/',
  '//',
  '/etc/passwd',
  '/dev/null',
  'file:///etc/passwd',
  'C:\\Windows',
  'NaN',
  'Infinity',
  '-1',
  '1e309',
  '0x10',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '{"__proto__":{"polluted":1}}',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  "'; DROP TABLE faces; --",
  '${process.exit(1)}',
  '{{7*7}}',
  '$(reboot)',
  '`id`',
  '+',
  '#',
  'a/+/#',
  '$SYS/broker',
  'front/door',
  'front_door',
  '\u202eevil',
  'zero\u200bwidth',
  '\ufeffbom',
  '\uffff',
  '\ufffe',
  '\ufdd0',
  '\ud800',
  '\udfff',
  '😀👨‍👩‍👧',
  'é',
  'e\u0301',
  'İı',
  'ß',
  'ﷺ',
  '\u2028\u2029',
  '\r\nSet-Cookie: x=1',
  'PERSON_0001',
  'person_0001',
  'unknown',
  'photo',
  'start',
  'stop',
  'restart',
  'register',
  'list',
  'query',
  'stats',
];

/** Real picture formats' first bytes: a decoder takes each for its format, then meets garbage. */
const MAGIC: readonly Buffer[] = [
  Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  Buffer.from([0xff, 0xd8, 0xff, 0xdb]),
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from('GIF89a'),
  Buffer.concat([Buffer.from('RIFF'), Buffer.from([0xff, 0xff, 0xff, 0x7f]), Buffer.from('WEBPVP8 ')]),
  Buffer.from('BM'),
  Buffer.from([0x49, 0x49, 0x2a, 0x00]),
  Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999">'),
];

/** A value as it can be printed in a failure report: huge, deep and circular parts shortened. */
export function show(value: unknown, maxLength = 600): string {
  const seen = new Set<unknown>();
  const walk = (v: unknown, depth: number): string => {
    if (v === undefined) return 'undefined';
    if (v === null) return 'null';
    if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'boolean') return String(v);
    if (typeof v === 'symbol') return v.toString();
    if (typeof v === 'function') return `[function ${v.name || 'anonymous'}]`;
    if (typeof v === 'string') {
      if (v.length <= 80) return JSON.stringify(v);
      return `${JSON.stringify(v.slice(0, 40))}…(${v.length} chars)`;
    }
    if (Buffer.isBuffer(v))
      return `<Buffer ${v.length} bytes${v.length ? ` ${v.subarray(0, 8).toString('hex')}…` : ''}>`;
    if (ArrayBuffer.isView(v)) return `<${v.constructor.name} ${v.byteLength} bytes>`;
    if (v instanceof ArrayBuffer) return `<ArrayBuffer ${v.byteLength} bytes>`;
    if (typeof v !== 'object') return typeof v;
    if (seen.has(v)) return '[circular]';
    if (depth > 5) return Array.isArray(v) ? '[…deeper]' : '{…deeper}';
    seen.add(v);
    try {
      if (v instanceof Date) return `Date(${Number.isNaN(v.getTime()) ? 'invalid' : v.toISOString()})`;
      if (v instanceof Error) return `Error(${walk(v.message, depth + 1)})`;
      if (v instanceof Map) return `Map(${v.size})`;
      if (v instanceof Set) return `Set(${v.size})`;
      if (Array.isArray(v)) {
        const items = v.slice(0, 8).map((x) => walk(x, depth + 1));
        if (v.length > 8) items.push(`…${v.length} items`);
        return `[${items.join(', ')}]`;
      }
      const keys = Reflect.ownKeys(v);
      const parts = keys.slice(0, 12).map((k) => {
        const d = Object.getOwnPropertyDescriptor(v, k);
        const shown = d && 'value' in d ? walk(d.value, depth + 1) : '[getter]';
        return `${typeof k === 'symbol' ? k.toString() : JSON.stringify(k)}: ${shown}`;
      });
      if (keys.length > 12) parts.push(`…${keys.length} keys`);
      const proto = Object.getPrototypeOf(v) as object | null;
      const tag =
        proto === null
          ? '[null prototype] '
          : proto !== Object.prototype
            ? `${proto.constructor?.name ?? '?'} `
            : '';
      return `${tag}{${parts.join(', ')}}`;
    } finally {
      seen.delete(v);
    }
  };
  const text = walk(value, 0);
  return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
}

/**
 * What the JavaScript engine says when code met a value it did not expect: a user cannot act on
 * these (they name the code's variables, not the message's fields). Unclear when the error starts
 * with them; after a clear prefix (`x.json is not valid JSON: Unexpected token…`) they are detail.
 */
const ENGINE_ERRORS: readonly RegExp[] = [
  /Cannot read propert/i,
  /Cannot set propert/i,
  /Cannot destructure/i,
  /Cannot convert/i,
  /Cannot create property/i,
  /Cannot use 'in' operator/i,
  /is not a function/i,
  /is not iterable/i,
  /is not a constructor/i,
  /is not defined/i,
  /of (undefined|null)\b/i,
  /Invalid time value/i,
  /Invalid array length/i,
  /Maximum call stack/i,
  /Do not know how to serialize/i,
  /Converting circular structure/i,
  /Unexpected token/i,
  /toISOString|toLowerCase|toFixed|localeCompare/,
];

/** Never clear, wherever it stands: a value printed without being looked at. */
const ANYWHERE: readonly RegExp[] = [/\[object Object\]/, /\bundefined is not\b/];

/**
 * Longest error message a user is shown (the status line, the log, a Catch node): room for a path
 * of PATH_MAX (4096) and a sentence around it, far from a megabyte field echoed back.
 */
export const MAX_ERROR_LENGTH = 5000;

/** Why an error message is not one a user can act on, or undefined when it is. */
export function unclear(message: unknown): string | undefined {
  if (typeof message !== 'string') return `not text: ${show(message)}`;
  // FaceWatch throws no TypeError of its own: one is a value the code did not expect.
  if (/^TypeError\b/.test(message))
    return `a TypeError (the code met a value it did not expect): ${show(message)}`;
  if (/^\w*Error \[ERR_\w+\]/.test(message))
    return `Node.js's internal error, not FaceWatch's: ${show(message)}`;
  // Node-RED and our error classes put the class first: `Error: `, `StoreError: `, `RangeError: `.
  const text = message.replace(/^\w*Error: /, '');
  if (text.trim().length < 8) return `too short to say anything: ${JSON.stringify(text)}`;
  if (text.length > MAX_ERROR_LENGTH) return `${text.length} characters long: ${show(text)}`;
  const engine = ENGINE_ERRORS.find((re) => (re.exec(text)?.index ?? Infinity) < 20);
  if (engine) return `the engine's words, not the user's (${engine}): ${show(text)}`;
  const anywhere = ANYWHERE.find((re) => re.test(text));
  if (anywhere) return `a value printed without being looked at (${anywhere}): ${show(text)}`;
  return undefined;
}

/** A random stream for one test: every draw reproducible from the run's seed and the stream's label. */
export class Fuzz {
  readonly label: string;
  readonly next: () => number;

  constructor(label: string, seed = FUZZ_SEED) {
    this.label = label;
    this.next = mulberry32(derive(seed, label));
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** One of the makers, by weight: `oneOf([3, () => a], [1, () => b])`. */
  oneOf<T>(...choices: Array<[number, () => T]>): T {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let r = this.next() * total;
    for (const [w, make] of choices) {
      r -= w;
      if (r < 0) return make();
    }
    return choices[choices.length - 1][1]();
  }

  /** `n` random bytes (past 64 kB, a random 64 kB block repeated). */
  bytes(n: number): Buffer {
    const block = Buffer.alloc(Math.min(n, 65536));
    for (let i = 0; i < block.length; i++) block[i] = Math.floor(this.next() * 256);
    if (block.length === n) return block;
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i += block.length) block.copy(out, i);
    return out;
  }

  /** Numbers that break arithmetic: NaN, the infinities, -0, huge, tiny, negative, fractional. */
  number(): number {
    return this.oneOf<number>(
      [
        6,
        () =>
          this.pick([
            0,
            -0,
            1,
            -1,
            0.5,
            NaN,
            Infinity,
            -Infinity,
            Number.MAX_SAFE_INTEGER,
            Number.MAX_SAFE_INTEGER + 2,
            Number.MAX_VALUE,
            -Number.MAX_VALUE,
            Number.MIN_VALUE,
            Number.EPSILON,
            2 ** 31,
            2 ** 32,
            -(2 ** 31),
            2 ** 53,
            1e21,
            1e-7,
            65535,
            65536,
            1e12,
            -1e12,
            4.2e15,
          ]),
      ],
      [2, () => this.int(-1000, 100000)],
      [1, () => (this.next() - 0.5) * 10 ** this.int(-5, 300)],
    );
  }

  /** A string: nasty, random Unicode, numeric, or huge. */
  string(): string {
    return this.oneOf<string>(
      [5, () => this.pick(NASTY_STRINGS)],
      [3, () => this.text(this.int(1, 24))],
      [1, () => String(this.number())],
      [1, () => this.pick(NASTY_STRINGS) + this.text(this.int(0, 8)) + this.pick(NASTY_STRINGS)],
      [1, () => this.huge()],
    );
  }

  /** Random code points, lone surrogates and non-characters included. */
  text(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) {
      s += this.oneOf(
        [6, () => String.fromCharCode(this.int(0x20, 0x7e))],
        [1, () => String.fromCharCode(this.int(0, 0x1f))],
        [2, () => String.fromCharCode(this.int(0x80, 0xffff))],
        [1, () => String.fromCodePoint(this.int(0x10000, 0x10ffff))],
      );
    }
    return s;
  }

  /** A long string: 10 k to 2 M characters, or, rarely, 8 M. */
  huge(): string {
    const n = this.chance(0.03) ? 8 * 2 ** 20 : this.pick([10_000, 100_000, 2 ** 20, 2 * 2 ** 20]);
    const unit = this.pick(['x', '\u00e9', '/', '%', '\u0000', '😀']);
    return unit.repeat(n / unit.length);
  }

  /** A Buffer of garbage: empty, random, an image format's header then garbage, or many zeros. */
  buffer(): Buffer {
    return this.oneOf<Buffer>(
      [1, () => Buffer.alloc(0)],
      [3, () => this.bytes(this.int(1, 4096))],
      [3, () => Buffer.concat([this.pick(MAGIC), this.bytes(this.int(0, 2048))])],
      [1, () => this.pick(MAGIC)],
      [1, () => Buffer.alloc(this.pick([1, 3, 4096, 2 ** 20, 4 * 2 ** 20]), this.int(0, 255))],
    );
  }

  /** A key for a random object: a prototype key, a nasty string or a plain one. */
  key(): string {
    return this.oneOf<string>(
      [3, () => this.pick(PROTO_KEYS)],
      [2, () => this.pick(NASTY_STRINGS)],
      [3, () => this.text(this.int(1, 10))],
    );
  }

  /**
   * Sets an own, enumerable property, `__proto__` included (as JSON.parse does): a plain assignment
   * of `__proto__` would change the object's prototype instead.
   */
  static set(target: object, key: string, value: unknown): void {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  }

  /** An object of random keys and values. */
  object(depth = 2): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    const n = this.int(0, 5);
    for (let i = 0; i < n; i++) Fuzz.set(o, this.key(), this.value(depth - 1));
    return o;
  }

  /** A chain of `depth` nested objects or arrays. */
  deep(depth = this.pick([50, 300, 1000])): unknown {
    const arrays = this.chance(0.5);
    let v: unknown = this.chance(0.5) ? 'bottom' : {};
    for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
    return v;
  }

  /** An object that contains itself (as `msg.req` does in an HTTP flow). */
  circular(): Record<string, unknown> {
    const o: Record<string, unknown> = { name: 'loop', n: 1 };
    o.self = o;
    o.list = [o, { back: o }];
    return o;
  }

  /** Any value a message could carry. */
  value(depth = 2): unknown {
    const leaf = (): unknown =>
      this.oneOf<unknown>(
        [2, () => this.pick([undefined, null, true, false])],
        [4, () => this.number()],
        [5, () => this.string()],
        [2, () => this.buffer()],
        [
          1,
          () =>
            this.pick([
              () => new Uint8Array(this.bytes(this.int(0, 64))),
              () => new Float32Array([NaN, Infinity, -1, 0.5]),
              () => new ArrayBuffer(this.int(0, 64)),
              () => new Date(this.pick([0, NaN, 8.64e15 + 1, Date.now()])),
              () => new Error('an error in the message'),
              () => /(a+)+$/,
              () => new Map([['__proto__', 1]]),
              () => new Set([1, 2]),
              () => Symbol('fuzz'),
              () => BigInt(this.int(-5, 5)) * 10n ** 30n,
              () => () => 'a function',
            ])(),
        ],
      );
    if (depth <= 0) return leaf();
    return this.oneOf<unknown>(
      [10, leaf],
      [3, () => this.object(depth)],
      [2, () => Array.from({ length: this.int(0, 6) }, () => this.value(depth - 1))],
      [1, () => this.deep()],
      [1, () => this.circular()],
      [1, () => this.sparse()],
    );
  }

  /** A sparse array: a length with few items. */
  sparse(): unknown[] {
    const a: unknown[] = [];
    a.length = this.pick([10, 1000, 100_000]);
    a[a.length - 1] = this.value(0);
    return a;
  }

  /** `base` with some fields replaced, removed or added at random (a message that is almost right). */
  mutate<T extends object>(base: T, rate = 0.3): T {
    const out = { ...base } as Record<string, unknown>;
    for (const k of Object.keys(out)) {
      if (!this.chance(rate)) continue;
      if (this.chance(0.2)) delete out[k];
      else out[k] = this.value(1);
    }
    if (this.chance(rate)) Fuzz.set(out, this.key(), this.value(1));
    return out as T;
  }
}
