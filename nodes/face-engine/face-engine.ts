import { engines, type EngineLease } from '../../lib/vision/registry';
import { engineConfig, type FaceEngineDef } from './config';
import type { EngineProvider } from '../shared/engine';
import { offerResource } from '../shared/provider';
import type { NodeAPI } from '../shared/red';
import { upgradeSettings } from '../shared/settings';

/**
 * face-engine: a config node that owns one inference pool, shared and reference-counted by every
 * face-detect and face-register node (and admin route) that names it. The pool starts with its
 * first user and stops with its last; its state (starting, open, failed, closed) is pushed to every
 * node registered with it.
 */
export = function register(RED: NodeAPI): void {
  function FaceEngineNode(this: EngineProvider, def: FaceEngineDef): void {
    RED.nodes.createNode(this, def);
    const warn = (m: string): void => this.warn(m);
    const config = engineConfig(upgradeSettings('face-engine', def, warn), warn);
    const key = `face-engine:${this.id}`;
    offerResource(this, engines.owner, key, (user): Promise<EngineLease> =>
      engines.acquire(key, config, user),
    );
  }
  RED.nodes.registerType('face-engine', FaceEngineNode);
};
