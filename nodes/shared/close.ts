import type { Node } from './red';

/** Node-RED gives close handlers 15 s; ours must finish well inside that. */
export const CLOSE_TIMEOUT_MS = 10000;

/**
 * Registers an async close handler with the `(removed, done)` signature Node-RED awaits
 * (a zero-argument async handler is not awaited). Cleanup errors are logged, never thrown,
 * and a cleanup that hangs is abandoned after CLOSE_TIMEOUT_MS with a warning so a redeploy
 * never stalls.
 */
export function onClose(node: Node, cleanup: (removed: boolean) => Promise<void> | void): void {
  node.on('close', (removed: boolean, done: () => void) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS);
    });
    Promise.race([Promise.resolve().then(() => cleanup(removed)), timeout])
      .then((result) => {
        if (result === 'timeout') node.warn(`cleanup did not finish within ${CLOSE_TIMEOUT_MS} ms`);
      })
      .catch((err: unknown) =>
        node.error(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`),
      )
      .finally(() => {
        clearTimeout(timer);
        done();
      });
  });
}
