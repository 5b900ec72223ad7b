// lib/types is shared with the runtime, and one of its types holds a Node.js Buffer (a face crop
// the page never receives). The page is built without Node's types, so Buffer is only a byte array here.
declare global {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Buffer extends Uint8Array {}
}
export {};
