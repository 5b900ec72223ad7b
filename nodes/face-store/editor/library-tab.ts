/**
 * The editor's link to the Face Library page: a sidebar tab with a short description and a button
 * that opens `facewatch/` (relative to the editor, so under Node-RED's admin root) in a new tab.
 * face-store's editor script adds it, once however often the script runs.
 */
const NS = 'node-red-contrib-facewatch/face-store';
const TAB = 'facewatch-library';

export function addLibraryTab(): void {
  // Outside the editor (a test that loads the editor scripts with a stand-in RED) there is no sidebar.
  const sidebar = (RED as Partial<typeof RED>).sidebar;
  if (!sidebar || sidebar.containsTab(TAB)) return;
  const t = (key: string): string => RED._(`${NS}:face-store.library.${key}`);
  const open = $('<button type="button" class="red-ui-button" id="facewatch-library-open">')
    .append($('<i class="fa fa-external-link">'), ' ', $('<span>').text(t('open')))
    .on('click', () => {
      window.open('facewatch/', '_blank', 'noopener');
    });
  const content = $('<div class="red-ui-sidebar-info" id="facewatch-library-tab">').css('padding', '12px');
  content.append(
    $('<p>').text(t('description')),
    $('<p>').append(open),
    $('<p class="form-tips">').text(t('tip')),
  );
  sidebar.addTab({
    id: TAB,
    label: t('label'),
    name: t('name'),
    iconClass: 'fa fa-users',
    content: content[0],
    enableOnEdit: true,
  });
}
