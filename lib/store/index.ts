/**
 * The face store: people, samples and descriptors on NeDB, the matching index, enrolment, bulk
 * import. Evaluation lives in lib/eval. See face-store.ts for the store itself.
 */
export * from './errors';
export * from './face-store';
export { DEFAULT_MATCH_OPTIONS, confidenceOf, decideMatch, type MatchOptions } from './match';
export { DescriptorIndex, type IndexHit } from './descriptor-index';
export { CropFolder, type CropEntry, type CropFolderModes } from './crops';
export * from './enrol';
export * from './import';
export { sanitiseId, sanitiseName, sanitiseMetadata } from './codec';
