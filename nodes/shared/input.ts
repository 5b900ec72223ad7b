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
      if (err === undefined) {
        done();
        return;
      }
      const error = err instanceof Error ? err : new Error(errorText(err));
      status?.error(error);
      done(error);
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
