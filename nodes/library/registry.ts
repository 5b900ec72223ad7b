/**
 * What the Face Library's routes need to find at run time, per Node-RED runtime: the deployed
 * rtsp-sources' controls and the live view's hub (events are found through their face stores).
 * Nodes add themselves when they start and are removed when they close.
 */
import { drawSnapshot } from '../../lib/events/snapshot';
import { LiveHub } from '../../lib/live/hub';
import { asJpeg } from '../../lib/vision/image';
import type { SourceInfo } from '../../lib/types/library';
import { onClose } from '../shared/close';
import type { Node, NodeAPI } from '../shared/red';

export type { SourceInfo } from '../../lib/types/library';

/** A deployed rtsp-source and its own controls. */
export interface LibrarySource {
  id: string;
  name: string;
  /** The face-camera's name (the `camera` of frames and events); undefined when none is configured. */
  cameraName(): string | undefined;
  info(): SourceInfo;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The runtime's registry. */
export class LibraryRegistry {
  readonly sources = new Map<string, LibrarySource>();
  readonly live = new LiveHub({
    encode: (raw) => asJpeg(raw),
    draw: (jpeg, faces) =>
      drawSnapshot(
        jpeg,
        faces.map((f) => ({ box: f.box, text: f.name ?? 'unknown', known: f.known })),
      ),
  });

  /** Adds an rtsp-source until it closes. */
  addSource(node: Node, entry: Omit<LibrarySource, 'id'>): void {
    this.sources.set(node.id, { id: node.id, ...entry });
    onClose(node, () => {
      this.sources.delete(node.id);
    });
  }
}

const registries = new WeakMap<object, LibraryRegistry>();

/** The Face Library registry of the runtime `RED` belongs to. */
export function libraryRegistry(RED: NodeAPI): LibraryRegistry {
  // Every node module gets its own RED object; the admin app (and the nodes API) are the runtime's.
  const key = (RED.httpAdmin as object | undefined) ?? RED.nodes;
  let r = registries.get(key);
  if (!r) {
    r = new LibraryRegistry();
    registries.set(key, r);
  }
  return r;
}
