import { acquireEngine, type EngineLease } from '../../lib/vision/registry';
import { engineConfig, type FaceEngineDef } from './config';
import type { EngineProvider } from '../shared/engine';
import type { NodeAPI } from '../shared/red';

/**
 * face-engine: a config node that owns one inference pool, shared and reference-counted by every
 * face-detect and face-register node (and admin route) that names it. The pool starts with its
 * first user and stops with its last.
 */
export = function register(RED: NodeAPI): void {
  function FaceEngineNode(this: EngineProvider, def: FaceEngineDef): void {
    RED.nodes.createNode(this, def);
    const config = engineConfig(def);
    const key = `face-engine:${this.id}`;
    this.acquire = (): Promise<EngineLease> => acquireEngine(key, config);
  }
  RED.nodes.registerType('face-engine', FaceEngineNode);
};
