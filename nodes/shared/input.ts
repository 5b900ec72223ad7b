import type { Node, NodeMessageInFlow, Send } from './red';
import { Status, errorText } from './status';

/** What an input handler gets for each message. */
export interface InputContext<M> {
  msg: M;
  send: Send;
}

/**
 * Registers the node's input handler so that every message ends in exactly one `done()` or
 * `done(err)`: resolved handlers call `done()`, rejected ones set the status to the error text
 * and call `done(err)`, which reaches Catch nodes with the message. A handler that throws
 * synchronously is treated the same way; nothing escapes to crash Node-RED.
 */
export function onInput<M extends NodeMessageInFlow = NodeMessageInFlow>(
  node: Node,
  status: Status | undefined,
  handler: (ctx: InputContext<M>) => Promise<void> | void,
): void {
  node.on('input', (msg, send, done) => {
    let finished = false;
    const finish = (err?: unknown): void => {
      if (finished) return;
      finished = true;
      const error = err === undefined ? undefined : err instanceof Error ? err : new Error(errorText(err));
      if (error) status?.error(error);
      try {
        if (error) done(error);
        else done();
      } catch (thrown) {
        // Node-RED itself could not pass the message on to Catch or Complete nodes (a message with
        // its own `hasOwnProperty`, one too deep to clone): said in the log, never an unhandled rejection.
        node.error(
          `could not end the message: ${errorText(thrown)}${error ? ` (after: ${error.message})` : ''}`,
        );
      }
    };
    try {
      Promise.resolve(handler({ msg: msg as M, send })).then(
        () => finish(),
        (err: unknown) => finish(err),
      );
    } catch (err) {
      finish(err);
    }
  });
}
