/** Types of scripts/allocator.mjs, for the tests and the soak (TypeScript). */
export const JEMALLOC_CONF: string;
export function jemallocCandidates(arch?: string): string[];
export function allocatorEnv(
  env: Record<string, string | undefined>,
  opts?: { platform?: string; exists?: (p: string) => boolean; arch?: string },
): { vars: Record<string, string>; allocator: 'jemalloc' | 'glibc' | 'system'; line: string };
