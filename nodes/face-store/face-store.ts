import path from 'node:path';
import type { StoreOpenOptions } from '../../lib/events/store-events';
import { pgConnection, typedPassword } from '../../lib/store/pg/settings';
import type { FaceStoreCredentials, FaceStoreSettings } from '../../lib/types/node-settings';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { instanceName } from '../shared/instance';
import { substituteEnv, unsetEnv, upgradeSettings } from '../shared/settings';
import { missingAddress, offerResource } from '../shared/provider';
import { storeSettings } from './config';
import { registerLibrary } from '../library';
import { acquireStore, openOptionsKey, storeFile, stores, type StoreProvider } from '../shared/store';

interface FaceStoreDef extends NodeDef, FaceStoreSettings {}

/**
 * face-store: a config node naming one face database: a datafile of this instance (NeDB, the
 * default) or a PostgreSQL schema that several Node-RED instances share. The store is opened by its
 * first user (face-match, face-register, the admin routes) and closed by its last; its state (open,
 * failed, closed) is pushed to every node registered with it.
 */
export = function register(RED: NodeAPI): void {
  function FaceStoreNode(this: StoreProvider, def: FaceStoreDef): void {
    RED.nodes.createNode(this, def);
    const warn = (m: string): void => this.warn(m);
    const settings = storeSettings(upgradeSettings('face-store', def, warn), warn);
    const base = { owner: `Node-RED (pid ${process.pid})`, actor: 'node-red' };
    let opts: StoreOpenOptions;
    this.backend = settings.backend;
    if (settings.backend === 'postgres') {
      const credentials = (this as unknown as { credentials?: Partial<FaceStoreCredentials> }).credentials;
      const url = substituteEnv(RED, this, settings.url);
      const userDir = (RED.settings as { userDir?: string }).userDir ?? process.cwd();
      let shown = 'postgres';
      let schema = settings.schema;
      let connection = {};
      this.problem = missingAddress('database', unsetEnv(RED, this, settings.url), url);
      if (!this.problem) {
        try {
          const c = pgConnection({
            url,
            schema: settings.schema,
            poolSize: settings.poolSize,
            username: credentials?.username?.trim() || undefined,
            password: credentials?.password || undefined,
          });
          ({ shown, schema, connection } = c);
        } catch (err) {
          this.problem = (err as Error).message;
          this.error(`face store: ${this.problem}`);
        }
      }
      if (typedPassword(settings.url))
        this.warn(
          'the database URL holds a password, saved in the flow file in clear text: put it in the Password field (or in the variable the URL names)',
        );
      this.file = `${shown} (schema ${schema || 'facewatch'})`;
      opts = {
        ...base,
        backend: 'postgres',
        connection,
        schema,
        shown,
        instance: instanceName(RED),
        // The detection log stays on this machine for now (README "Several Node-RED instances").
        eventsFile: path.join(userDir, 'facewatch', `pg-${schema || 'facewatch'}-events`, 'events.db'),
      };
    } else {
      this.file = storeFile(RED, def.file);
      opts = { ...base, file: this.file, backups: settings.backups };
    }
    offerResource(this, stores, this.problem ? `invalid:${this.id}` : openOptionsKey(opts), (user) =>
      acquireStore(opts, user),
    );
  }
  RED.nodes.registerType('face-store', FaceStoreNode as unknown as (this: Node, def: FaceStoreDef) => void, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  });
  registerLibrary(RED);
};
