/**
 * The erasers other rooms register with a store (the event log, retained MQTT topics): what keeps
 * copies of people's data, to be erased with them. Shared by the NeDB store's erasure (erasure.ts)
 * and the PostgreSQL store's.
 */
import { messageOf } from './files';
import type { PersonEraser } from './types';

export class EraserSet {
  /** By name, in registration order. */
  private readonly erasers = new Map<string, PersonEraser>();

  /**
   * Registers an eraser; a later registration under the same name replaces the earlier one.
   * Returns the function that removes it.
   */
  add(name: string, eraser: PersonEraser): () => void {
    if (typeof name !== 'string' || !name) throw new TypeError('an eraser needs a name');
    if (typeof eraser?.erasePerson !== 'function') throw new TypeError(`eraser ${name} has no erasePerson()`);
    this.erasers.set(name, eraser);
    return () => {
      if (this.erasers.get(name) === eraser) this.erasers.delete(name);
    };
  }

  /** Runs every eraser, each after the one before; resolves to what failed (empty when nothing). */
  async run(person: { id: string; name: string }): Promise<string[]> {
    const failed: string[] = [];
    for (const [name, eraser] of [...this.erasers]) {
      try {
        await eraser.erasePerson({ id: person.id, name: person.name });
      } catch (err) {
        failed.push(`eraser "${name}" failed: ${messageOf(err)}`);
      }
    }
    return failed;
  }
}
