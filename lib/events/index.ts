/** Detection events: tracks, the naming vote, cooldown, snapshots, the log, queries, stats, retention. */
export * from './log';
export * from './recorder';
export * from './snapshot';
export * from './time';
export * from './tracker';
