import type { Node, Translate } from './red';

type Fill = 'red' | 'green' | 'yellow' | 'blue' | 'grey';
type Shape = 'ring' | 'dot';

/** The meaning of a status, which fixes its colour and shape across every FaceWatch node. */
export type StatusKind = 'ok' | 'busy' | 'idle' | 'warn' | 'error' | 'off';

const LOOK: Record<StatusKind, { fill: Fill; shape: Shape }> = {
  ok: { fill: 'green', shape: 'dot' },
  busy: { fill: 'blue', shape: 'dot' },
  idle: { fill: 'grey', shape: 'ring' },
  warn: { fill: 'yellow', shape: 'ring' },
  error: { fill: 'red', shape: 'ring' },
  off: { fill: 'grey', shape: 'dot' },
};

/** Status text is kept short enough for the editor's node label area. */
const MAX_TEXT = 64;

/**
 * A node's status light with fixed colours and translated texts.
 * Texts are i18n keys of the node's catalog (`status.*`); `raw` passes through already-final text
 * (an error message, a count). Repeated identical updates are not re-sent to the editor.
 */
export class Status {
  private last = '';
  /** A condition shown over the node's own news until released (see {@link hold}). */
  private held = false;
  /** What the node set while a condition was held: shown when it is released. */
  private behind?: { kind: StatusKind; text: string };

  constructor(
    private readonly node: Node,
    private readonly t: Translate,
  ) {}

  /** Set the status from a catalog key, e.g. `status.ready`. */
  set(kind: StatusKind, key: string, subs?: Record<string, string | number>): void {
    this.raw(kind, this.t(key, subs));
  }

  /** Set the status from final text. */
  raw(kind: StatusKind, text: string): void {
    if (this.held) {
      this.behind = { kind, text };
      return;
    }
    this.show(kind, text);
  }

  /**
   * Shows a condition more important than the node's own news (its database unreachable) until
   * {@link release}: what the node sets meanwhile is kept and shown when the condition ends.
   */
  hold(kind: StatusKind, text: string): void {
    this.held = true;
    this.show(kind, text);
  }

  /** Ends a held condition: the node's latest status comes back. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    const b = this.behind;
    this.behind = undefined;
    if (b) this.show(b.kind, b.text);
    else this.clear();
  }

  private show(kind: StatusKind, text: string): void {
    const clipped = text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
    const key = `${kind}|${clipped}`;
    if (key === this.last) return;
    this.last = key;
    this.node.status({ ...LOOK[kind], text: clipped });
  }

  /** Show an error (its message only: never a stack, never a secret-bearing URL). */
  error(err: unknown): void {
    this.raw('error', errorText(err));
  }

  clear(): void {
    if (this.held) {
      this.behind = undefined;
      return;
    }
    this.last = '';
    this.node.status({});
  }
}

/** The message of an error, or a string form of a thrown non-error. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  return 'unknown error';
}
