/** Choosing photos: a file input that also takes drag and drop, and the client-side size check. */
import { LIBRARY } from '../../lib/types/defaults';
import { h, nextId } from './dom';

/** The API's own upload limit (lib/types/defaults.ts), checked here too: nobody waits for an upload that will fail. */
export const MAX_UPLOAD_MB = LIBRARY.uploadMegabytes.default;
export const MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024;
const TYPES = ['image/jpeg', 'image/png', 'image/webp'];

/** Why a file cannot be sent, or null. */
export function photoProblem(file: File): string | null {
  if (file.size > MAX_UPLOAD_BYTES)
    return `${file.name} is ${megabytes(file.size)}: photos are limited to ${MAX_UPLOAD_MB} MB.`;
  if (file.type && !TYPES.includes(file.type)) return `${file.name} is not a JPEG, PNG or WebP photo.`;
  if (file.size === 0) return `${file.name} is empty.`;
  return null;
}

export function megabytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

/**
 * A drop zone around a file input: clicking or pressing Enter/Space opens the file chooser, files
 * dropped on it are handed to `onFiles` as picked ones are.
 */
export function photoPicker(label: string, multiple: boolean, onFiles: (files: File[]) => void): HTMLElement {
  const id = nextId('photos');
  const input = h('input', {
    type: 'file',
    id,
    accept: TYPES.join(','),
    multiple,
    class: 'visually-hidden-input',
  });
  input.addEventListener('change', () => {
    onFiles([...(input.files ?? [])]);
    input.value = '';
  });
  const zone = h(
    'div',
    { class: 'dropzone' },
    h(
      'label',
      { for: id },
      h('strong', {}, label),
      h(
        'span',
        {},
        multiple
          ? `Drop photos here or choose files (JPEG, PNG, WebP, up to ${MAX_UPLOAD_MB} MB each)`
          : `Drop a photo here or choose a file (up to ${MAX_UPLOAD_MB} MB)`,
      ),
    ),
    input,
  );
  zone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('over');
    const files = [...(ev.dataTransfer?.files ?? [])];
    onFiles(multiple ? files : files.slice(0, 1));
  });
  return zone;
}
