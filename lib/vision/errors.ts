/**
 * Errors of the vision engine. Every one carries a stable `code` string so that nodes, the CLI and
 * tests can tell them apart without parsing messages.
 */

/** Why an image could not be used. */
export type ImageErrorCode = 'IMAGE_EMPTY' | 'IMAGE_CORRUPT' | 'IMAGE_UNSUPPORTED' | 'IMAGE_TOO_LARGE';

/** The input image is empty, corrupt, of an unsupported format or larger than the pixel limit. */
export class ImageError extends Error {
  override readonly name = 'ImageError';
  constructor(
    readonly code: ImageErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A waiting frame of a source was replaced by a newer one before a worker took it (backpressure:
 * one frame in flight plus the newest waiting per source). Not a failure: the frame was skipped.
 */
export class FrameDroppedError extends Error {
  override readonly name = 'FrameDroppedError';
  readonly code = 'FRAME_DROPPED';
  constructor(readonly source: string) {
    super(
      `frame of source "${source}" dropped: a newer frame arrived while the previous one was still in flight`,
    );
  }
}

/** Codes of engine and pool failures. */
export type EngineErrorCode =
  | 'ENGINE_CLOSED'
  | 'ENGINE_FAILED'
  | 'BACKEND_UNAVAILABLE'
  | 'WORKER_CRASHED'
  | 'WORKER_TIMEOUT'
  | 'INFERENCE_FAILED'
  | 'INVALID_OPTIONS'
  | 'INVALID_CONFIG';

/** The engine or one of its workers failed, or was used wrongly. */
export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
  }
}
