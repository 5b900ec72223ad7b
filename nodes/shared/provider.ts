import type { Lease, ResourceOwner, ResourceState } from '../../lib/shared/owner';
import { onClose } from './close';
import type { Node } from './red';

/** A shared resource's state as its config node pushes it to the nodes that use it. */
export interface ResourceStatus<R = unknown> {
  state: ResourceState;
  /** The resource, once open. */
  resource?: R;
  /** Why it failed to open or close (`error` only). */
  error?: Error;
}

/** What a node does when the resource it uses changes state. */
export type StateListener<R = unknown> = (status: ResourceStatus<R>) => void;

/**
 * The register/deregister side of a config node that owns a shared resource, as in Node-RED's own
 * MQTT broker node: the nodes using it register, and every state change of the resource reaches
 * them all.
 */
export interface Provider<R = unknown> {
  /** Adds a user; it hears the current state at once (if the resource has one) and every change after. */
  register(user: Node, onState: StateListener<R>): void;
  /** Removes a user; `done` is called once it is gone. Removing an unknown user is harmless. */
  deregister(user: Node, done?: () => void): void;
}

/** The users of one config node; state changes are pushed to them all. */
export class ProviderUsers<R = unknown> implements Provider<R> {
  private readonly listeners = new Map<string, { node: Node; onState: StateListener<R> }>();

  /** @param current - the resource's state now, told to each user as it registers */
  constructor(private readonly current?: () => ResourceStatus<R> | undefined) {}

  register(user: Node, onState: StateListener<R>): void {
    this.listeners.set(user.id, { node: user, onState });
    const now = this.current?.();
    if (now) call(onState, now);
  }

  deregister(user: Node, done?: () => void): void {
    this.listeners.delete(user.id);
    done?.();
  }

  /** The registered nodes, in the order they registered. */
  list(): Node[] {
    return [...this.listeners.values()].map((l) => l.node);
  }

  /** Pushes a state to every registered node. */
  broadcast(status: ResourceStatus<R>): void {
    for (const { onState } of [...this.listeners.values()]) call(onState, status);
  }
}

function call<R>(onState: StateListener<R>, status: ResourceStatus<R>): void {
  try {
    onState(status);
  } catch {
    // One user's failing status update must not keep the others from theirs.
  }
}

/**
 * Makes a config node the provider of the resource `key` of `owner`: the node gets
 * `register`/`deregister`, and each state change of the resource is broadcast to its users until
 * the config node closes.
 */
export function provide<R>(configNode: Node, owner: ResourceOwner<R>, key: string): ProviderUsers<R> {
  const { users, stop } = watchedUsers(owner, key);
  onClose(configNode, () => stop());
  return users;
}

/**
 * The users of the resource `key` of `owner`, told its current state as they register and each
 * change after, until `stop` (a config node's {@link provide}; the default engine, which no config
 * node owns, never stops).
 */
export function watchedUsers<R>(
  owner: ResourceOwner<R>,
  key: string,
): { users: ProviderUsers<R>; stop: () => void } {
  const users = new ProviderUsers<R>(() => currentStatus(owner, key));
  const stop = owner.watch(key, (change) =>
    users.broadcast({ state: change.state, resource: change.resource, error: change.error }),
  );
  return { users, stop };
}

/**
 * The state of `key` worth telling a user that registers now: `opening`, `open` (with the resource) or
 * `closing`; nothing while the owner holds nothing of it (a failed open is forgotten, not stale).
 */
export function currentStatus<R>(owner: ResourceOwner<R>, key: string): ResourceStatus<R> | undefined {
  const state = owner.state(key);
  if (state === 'closed' || state === 'error') return undefined;
  return { state, resource: owner.resource(key) };
}

/**
 * Registers `node` with the provider of its resource and deregisters it when the node closes.
 * A missing provider (nothing configured) is the lease's error to report, so it is skipped here.
 */
export function follow<R>(
  node: Node,
  provider: () => Provider<R> | undefined,
  onState: StateListener<R>,
): void {
  let held: Provider<R> | undefined;
  try {
    held = provider();
  } catch {
    return;
  }
  if (!held) return;
  held.register(node, onState);
  const registered = held;
  onClose(node, () => new Promise<void>((resolve) => registered.deregister(node, resolve)));
}

/** A config node that owns a shared resource: what its users call. */
export interface ResourceNode<R> extends Node, Provider<R> {
  /** What is wrong with its settings, if anything: every acquire is refused with it. */
  problem?: string;
  acquire(user?: string): Promise<Lease<R>>;
}

/**
 * Makes `configNode` the one provider of the resource `key` of `owner`, the same way for every
 * FaceWatch config node (face-engine, face-store, face-camera, face-mqtt-broker): its users register
 * and hear each state change until it closes, and `acquire` leases the resource through `open`, or
 * is refused with the node's `problem` when its settings cannot work.
 */
export function offerResource<R>(
  configNode: ResourceNode<R>,
  owner: ResourceOwner<R>,
  key: string,
  open: (user: string | undefined) => Promise<Lease<R>>,
): ProviderUsers<R> {
  const users = provide(configNode, owner, key);
  configNode.register = (user, onState) => users.register(user, onState);
  configNode.deregister = (user, done) => users.deregister(user, done);
  configNode.acquire = (user) =>
    configNode.problem ? Promise.reject(new Error(configNode.problem)) : open(user);
  return users;
}

/**
 * Why a config node has no address to use yet, or undefined when it has one: the `${VAR}`s of its
 * address that have no value (`unset`, from unsetEnv), else an empty address. Not a failure: the node
 * and its users say so and start nothing (the example flow before its variables are set).
 */
export function missingAddress(what: string, unset: string[], address: string): string | undefined {
  if (unset.length > 0)
    return `no ${what} address: ${unset.join(', ')} ${unset.length > 1 ? 'are' : 'is'} not set`;
  if (!address) return `no ${what} address: set the URL (or its variable)`;
  return undefined;
}
