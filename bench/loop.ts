/**
 * The main thread's event-loop delay, as every benchmark reports it. Node's histogram
 * (perf_hooks.monitorEventLoopDelay) records the time between two callbacks of its sampling timer,
 * which includes the timer's own interval: an idle process reads about 10 ms at the default
 * resolution. The figures here are the delay beyond that interval (as fastify's under-pressure
 * computes it), so an idle loop reads about 0.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** A running event-loop delay monitor; its figures are in milliseconds. */
export interface LoopDelay {
  enable(): void;
  disable(): void;
  /** The delay at percentile `p` (0..100), ms beyond the sampling interval. */
  percentile(p: number): number;
  /** The longest delay, ms beyond the sampling interval. */
  readonly max: number;
}

/** Samples the event loop every `resolution` ms (10 by default, as Node's). */
export function loopDelay(resolution = 10): LoopDelay {
  const h = monitorEventLoopDelay({ resolution });
  const beyond = (ns: number): number => Math.max(0, ns / 1e6 - resolution);
  return {
    enable: () => h.enable(),
    disable: () => h.disable(),
    percentile: (p) => beyond(h.percentile(p)),
    get max() {
      return beyond(h.max);
    },
  };
}
