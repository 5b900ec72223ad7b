// The editor's globals: Node-RED's `RED` client API and jQuery's `$`.
import type { EditorNodeProperties as NREditorNodeProperties, EditorRED } from 'node-red';

declare global {
  const RED: EditorRED;
  type EditorNodeProperties = NREditorNodeProperties;
}
