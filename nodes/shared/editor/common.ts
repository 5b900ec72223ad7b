/** Editor-side constants and helpers shared by every FaceWatch node's editor script. */

/** Palette category of every FaceWatch node. */
export const CATEGORY = 'facewatch';
/** Background colour of FaceWatch nodes in the workspace. */
export const COLOR = '#8fc9e8';

/** A number input that must be a finite number within bounds (inclusive). */
export function numberIn(min: number, max: number): (v: unknown) => boolean {
  return (v) => {
    const n = Number(v);
    return v !== '' && Number.isFinite(n) && n >= min && n <= max;
  };
}

/** The node's name when set, else its translated default label. */
export function labelOf(name: string | undefined, fallback: string): string {
  return name && name.trim() ? name : fallback;
}
