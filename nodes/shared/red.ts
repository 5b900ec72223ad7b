/** Node-RED runtime types used by every node, in one place. */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';

export type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow };

/** The `send` function Node-RED passes to input handlers. */
export type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;

/** A node's translator: keys are relative to the node's own catalog. */
export type Translate = (key: string, subs?: Record<string, string | number>) => string;
