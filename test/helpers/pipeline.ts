/**
 * The engine → store → register / detect → match → detection-log flow that the flow tests and the
 * events benchmark share, for node-red-node-test-helper: node ids `eng`, `st`, `reg` (→ `regOut`),
 * `fd` → `fm` → `log` (→ `out`), and a catch node (→ `caught`). The store lives in
 * `<dir>/facewatch/faces.db`.
 */

/** The node types of the shared flow, for `helper.load` (with builtNode); add a flow's others to it. */
export const PIPELINE_NODES = [
  'face-engine',
  'face-detect',
  'face-store',
  'face-match',
  'face-register',
  'detection-log',
] as const;

/** A node of a flow, by its id. */
type FlowNode = Record<string, unknown> & { id: string };

/**
 * The shared flow with `overrides` merged into nodes by id (`null` removes the node; a node id not
 * in the flow is added as given, with its id) and `extra` nodes appended.
 */
export function pipelineFlow(
  dir: string,
  overrides: Record<string, Record<string, unknown> | null> = {},
  extra: object[] = [],
): object[] {
  const base: FlowNode[] = [
    { id: 'eng', type: 'face-engine', backend: 'wasm', poolSize: 1, detector: 'ssd' },
    { id: 'st', type: 'face-store', file: `${dir}/facewatch/faces.db`, backups: 1 },
    { id: 'reg', type: 'face-register', store: 'st', engine: 'eng', wires: [['regOut']] },
    { id: 'regOut', type: 'helper' },
    { id: 'fd', type: 'face-detect', engine: 'eng', descriptors: true, crops: true, wires: [['fm']] },
    { id: 'fm', type: 'face-match', store: 'st', wires: [['log']] },
    { id: 'log', type: 'detection-log', store: 'st', cooldown: 3, snapshots: true, wires: [['out']] },
    { id: 'out', type: 'helper' },
    { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper' },
  ];
  const out: FlowNode[] = [];
  for (const node of base) {
    const over = overrides[node.id];
    if (over === null) continue;
    out.push(over ? { ...node, ...over, id: node.id } : node);
  }
  for (const [id, node] of Object.entries(overrides))
    if (node && !base.some((b) => b.id === id)) out.push({ ...node, id });
  return [...out, ...extra];
}
