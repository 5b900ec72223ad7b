import type { Lease } from '../../lib/shared/owner';
import type { CameraStream } from '../../lib/camera/stream';
import type { ResourceNode } from './provider';
import type { NodeAPI } from './red';

/** The runtime face of a face-camera config node, as rtsp-source sees it. */
export interface CameraProvider extends ResourceNode<CameraStream> {
  /** The camera's name in frames and events: its name, or its id when it has none. */
  cameraName: string;
  /** What is wrong with its settings (a bad URL, an unsupported scheme), if anything. */
  problem?: string;
  /** Set when it has no address yet (an unset variable): users say so and start nothing. */
  unset?: string;
  /** Leases the camera's stream for `user`; the first lease starts ffmpeg, the last stops it. */
  acquire(user: string): Promise<Lease<CameraStream>>;
}

/** The face-camera a node is configured with, or an error naming what is missing. */
export function cameraProvider(RED: NodeAPI, id: string | undefined): CameraProvider {
  const provider = id ? (RED.nodes.getNode(id) as CameraProvider | null) : null;
  if (!provider) throw new Error('no face-camera configured: select one in the node');
  return provider;
}
