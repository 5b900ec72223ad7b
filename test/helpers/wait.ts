/** Waiting in tests for something that happens by itself (a frame, a status, a message). */

/**
 * Resolves with the first truthy value `check` returns (or resolves to), polling every `stepMs`; rejects naming
 * `what` after `ms`. Each test file passes the timeout its parts need.
 */
export async function until<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  ms: number,
  stepMs = 25,
): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
