/** What every view gets and gives back. */
import type { ImageScope } from './api';

export interface ViewContext {
  /** Images the view shows (revoked when it goes). */
  images: ImageScope;
  /** Aborted when the view goes: long polls and uploads stop. */
  signal: AbortSignal;
  /** A message in the page's status line (it outlives the view). */
  notice(text: string): void;
  /** Runs `fn` every `ms` while the view is shown and the tab is visible. */
  every(ms: number, fn: () => Promise<void> | void): void;
}

/** Renders into `root`; `arg` is what follows the view's name in the hash (#person/<id>). */
export type View = (root: HTMLElement, ctx: ViewContext, arg: string) => void | Promise<void>;

/** The text of an error for a message line. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
