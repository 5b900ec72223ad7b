import {
  VENDOR_PRESETS,
  presetUrl,
  type CameraProfile as Profile,
  type DiscoveredDevice as Device,
  type VendorPreset,
} from '../../../lib/types/camera';
import { CAMERA, isChoice } from '../../../lib/types/defaults';
import { SETTINGS_VERSION } from '../../../lib/types/migrate';
import { migrateSettings } from '../../../lib/types/migrate';
import type { FaceCameraSettings } from '../../../lib/types/node-settings';
import { applyLimits, choiceSetting, labelOf, migrateForm, numberSetting } from '../../shared/editor/common';

interface FaceCameraProps extends EditorNodeProperties, FaceCameraSettings {}
interface FaceCameraCreds {
  username: string;
  password: string;
}

/** face-camera's editor defaults (exported for the test that compares them with lib/types/defaults.ts). */
export const defaults = {
  name: { value: '' },
  source: choiceSetting(CAMERA.source),
  url: { value: '', required: true },
  transport: choiceSetting(CAMERA.transport),
  fps: numberSetting(CAMERA.fps),
  width: numberSetting(CAMERA.width),
  describeFrom: choiceSetting(CAMERA.describeFrom),
  stallTimeout: numberSetting(CAMERA.stallTimeout),
  maxAttempts: numberSetting(CAMERA.maxAttempts),
  onvifAddress: { value: '' },
  version: { value: SETTINGS_VERSION['face-camera'] },
};

const P = 'node-config-input';
/** This node type's texts: its catalog lives in the package's namespace, which the node's own `_` knows. */
let translate: (key: string, subs?: Record<string, string | number>) => string = (key) => key;
const t = (key: string, subs?: Record<string, string | number>): string =>
  translate(`face-camera.${key}`, subs);

interface ProbeAnswer {
  ok: boolean;
  width?: number;
  height?: number;
  codec?: string;
  fps?: number;
  reason?: string;
}
/** POSTs JSON to an admin route (Node-RED's ajax setup adds the token); rejects with the route's error text. */
function post<T>(path: string, body: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    $.ajax({
      url: path,
      type: 'POST',
      contentType: 'application/json',
      data: JSON.stringify(body),
      dataType: 'json',
      timeout: 45000,
    })
      .done((data: T) => resolve(data))
      .fail((xhr: JQuery.jqXHR) => {
        const answer = xhr.responseJSON as { error?: string } | undefined;
        reject(new Error(answer?.error ?? (xhr.statusText || 'request failed')));
      });
  });
}

/** What Node-RED's editor shows in the password field of a node whose stored password it withholds. */
const PLACEHOLDER = '__PWRD__';

/**
 * The credentials as the form holds them, with the camera's id only when the deployed camera's
 * stored password is wanted (the password left as Node-RED's placeholder) or `also` says so: the
 * server then uses that password only toward the camera's own address.
 */
function credentials(id: string, also = false): { id?: string; username: string; password: string } {
  const password = String($(`#${P}-password`).val() ?? '');
  return {
    ...(password === PLACEHOLDER || also ? { id } : {}),
    username: String($(`#${P}-username`).val() ?? ''),
    password,
  };
}

/** The host of a URL in lower case, or '' when it has none. */
function hostOf(url: string): string {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return '';
  }
}

function say(el: JQuery, kind: 'ok' | 'error' | 'busy', text: string): void {
  const colour = kind === 'ok' ? '#3a3' : kind === 'error' ? '#c33' : '#888';
  el.empty().append($('<span>').css('color', colour).text(text));
}

RED.nodes.registerType<FaceCameraProps, FaceCameraCreds>('face-camera', {
  category: 'config',
  defaults,
  credentials: { username: { type: 'text' }, password: { type: 'password' } },
  label: function () {
    return labelOf(this.name, this.url ? this.url.replace(/^[a-z]+:\/\//i, '').split('/')[0] : 'camera');
  },
  paletteLabel: 'face camera',
  oneditprepare: function () {
    const own = (this as unknown as { _?: (key: string, subs?: object) => string })._;
    if (own) translate = (key, subs) => own.call(this, key, subs);
    applyLimits(P, {
      fps: CAMERA.fps,
      width: CAMERA.width,
      stallTimeout: CAMERA.stallTimeout,
      maxAttempts: CAMERA.maxAttempts,
    });
    migrateForm('face-camera', this, P);
    // A camera saved before the source setting shows the source it runs with (inferred from its URL).
    if (!isChoice(CAMERA.source, $(`#${P}-source`).val()))
      $(`#${P}-source`).val(migrateSettings('face-camera', this).settings.source);
    const id = this.id;

    // URL helper: host, port and a brand's stream path.
    const preset = $(`#${P}-preset`);
    for (const [key, p] of Object.entries(VENDOR_PRESETS))
      preset.append($('<option>').val(key).text(p.label));
    $('#fw-camera-build').on('click', () => {
      try {
        const port = Number($(`#${P}-host-port`).val()) || undefined;
        const url = presetUrl(
          String($(`#${P}-host`).val() ?? ''),
          String(preset.val()) as VendorPreset,
          $(`#${P}-stream`).val() === 'sub' ? 'sub' : 'main',
          port,
        );
        $(`#${P}-source`).val('network');
        // Another host is another device: the ONVIF address of the old one no longer belongs to it.
        const onvif = $(`#${P}-onvifAddress`);
        if (hostOf(String(onvif.val() ?? '')) !== hostOf(url)) onvif.val('');
        $(`#${P}-url`).val(url).trigger('change');
        say($('#fw-camera-build-result'), 'ok', '');
      } catch (err) {
        say($('#fw-camera-build-result'), 'error', (err as Error).message);
      }
    });

    // Test connection: the form's values; a deployed camera's stored password where the form has the placeholder.
    $('#fw-camera-test').on('click', () => {
      const out = $('#fw-camera-test-result');
      say(out, 'busy', t('test.running'));
      const url = String($(`#${P}-url`).val() ?? '');
      post<ProbeAnswer>('facewatch/camera/test', {
        // A `${VAR}` is resolved only by the deployed camera, so its id goes along.
        ...credentials(id, url.includes('${')),
        url,
        source: String($(`#${P}-source`).val() ?? ''),
        transport: String($(`#${P}-transport`).val() ?? ''),
      }).then(
        (r) =>
          r.ok
            ? say(
                out,
                'ok',
                t('test.ok', {
                  width: r.width ?? '?',
                  height: r.height ?? '?',
                  codec: r.codec ?? '?',
                  fps: r.fps ?? '?',
                }),
              )
            : say(out, 'error', r.reason ?? t('test.failed')),
        (err: Error) => say(out, 'error', err.message),
      );
    });

    // Discover: ONVIF WS-Discovery on a chosen interface, or one address probed directly.
    const iface = $(`#${P}-interface`);
    $.getJSON(
      'facewatch/camera/interfaces',
      (data: { interfaces: Array<{ name: string; address: string }> }) => {
        iface.empty().append($('<option>').val('').text(t('discover.anyInterface')));
        for (const i of data.interfaces)
          iface.append($('<option>').val(i.name).text(`${i.name} (${i.address})`));
      },
    );
    $('#fw-camera-discover-toggle').on('click', () => $('#fw-camera-discover').toggle());
    const list = $('#fw-camera-devices');
    $('#fw-camera-discover-run').on('click', () => {
      const out = $('#fw-camera-discover-result');
      list.empty();
      say(out, 'busy', t('discover.running'));
      post<{ devices: Device[] }>('facewatch/camera/discover', {
        ...credentials(id),
        interface: String(iface.val() ?? ''),
        address: String($(`#${P}-probe-address`).val() ?? '').trim(),
      }).then(
        ({ devices }) => {
          say(out, devices.length ? 'ok' : 'error', t('discover.found', { count: devices.length }));
          for (const d of devices) {
            const row = $('<div>').addClass('fw-device').css({ margin: '4px 0' });
            // Device names come from the network: text, never HTML.
            row.append(
              $('<span>').text(`${d.name}${d.model ? ` · ${d.model}` : ''} · ${d.address}:${d.port} `),
            );
            $('<button type="button" class="red-ui-button red-ui-button-small">')
              .text(t('discover.use'))
              .on('click', () => readProfiles(d, row))
              .appendTo(row);
            list.append(row);
          }
        },
        (err: Error) => say(out, 'error', err.message),
      );
    });

    function readProfiles(d: Device, row: JQuery): void {
      const out = $('<div>').appendTo(row);
      say(out, 'busy', t('discover.reading'));
      $(`#${P}-host`).val(d.address);
      post<{ profiles: Profile[] }>('facewatch/camera/profiles', {
        ...credentials(id),
        xaddr: d.xaddr,
      }).then(
        ({ profiles }) => {
          out.empty();
          // The device service this camera is set up from: the only address, besides its stream's,
          // its stored password will be sent to (Discover and profiles, once deployed).
          $(`#${P}-onvifAddress`).val(d.xaddr);
          $(`#${P}-source`).val('network');
          const select = $('<select>').addClass('fw-profiles').css('width', '70%');
          for (const p of profiles)
            select.append(
              $('<option>')
                .val(p.streamUri)
                .text(`${p.name} · ${p.width ?? '?'}x${p.height ?? '?'} ${p.encoding ?? ''}`),
            );
          const use = $('<button type="button" class="red-ui-button red-ui-button-small">')
            .text(t('discover.useProfile'))
            .on('click', () => {
              $(`#${P}-url`)
                .val(String(select.val() ?? ''))
                .trigger('change');
              if (!$(`#${P}-name`).val()) $(`#${P}-name`).val(d.name);
            });
          out.append(select, ' ', use);
          if (profiles.length) {
            $(`#${P}-url`).val(profiles[0].streamUri).trigger('change');
            if (!$(`#${P}-name`).val()) $(`#${P}-name`).val(d.name);
          }
        },
        (err: Error) => say(out, 'error', err.message),
      );
    }
  },
});
