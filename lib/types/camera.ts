/**
 * Camera stream addresses by brand, shared by the face-camera editor's URL helper and the runtime.
 * Isomorphic: the editor bundles this file.
 */

/** Stream paths of the common camera brands, main and sub stream of the first channel. */
export const VENDOR_PRESETS = {
  hikvision: {
    label: 'Hikvision',
    port: 554,
    main: '/Streaming/Channels/101',
    sub: '/Streaming/Channels/102',
  },
  dahua: {
    label: 'Dahua',
    port: 554,
    main: '/cam/realmonitor?channel=1&subtype=0',
    sub: '/cam/realmonitor?channel=1&subtype=1',
  },
  amcrest: {
    label: 'Amcrest',
    port: 554,
    main: '/cam/realmonitor?channel=1&subtype=0',
    sub: '/cam/realmonitor?channel=1&subtype=1',
  },
  reolink: { label: 'Reolink', port: 554, main: '/h264Preview_01_main', sub: '/h264Preview_01_sub' },
  axis: {
    label: 'Axis',
    port: 554,
    main: '/axis-media/media.amp',
    sub: '/axis-media/media.amp?resolution=640x360',
  },
  uniview: { label: 'Uniview', port: 554, main: '/unicast/c1/s0/live', sub: '/unicast/c1/s1/live' },
  /** ONVIF cameras name their stream URIs themselves: discovery reads them (GetStreamUri). */
  onvif: { label: 'Generic ONVIF (use Discover)', port: 554, main: '/', sub: '/' },
} as const;

export type VendorPreset = keyof typeof VENDOR_PRESETS;

/** Builds `rtsp://host:port/path` for a vendor preset; credentials are added separately. */
export function presetUrl(
  host: string,
  preset: VendorPreset,
  stream: 'main' | 'sub' = 'main',
  port?: number,
): string {
  const p = VENDOR_PRESETS[preset];
  if (!p) throw new Error(`unknown camera preset "${String(preset)}"`);
  const h = host.trim();
  if (!h || /[\s/@?#]/.test(h)) throw new Error(`invalid camera host "${host}"`);
  const bracketed = h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
  return `rtsp://${bracketed}:${port ?? p.port}${p[stream]}`;
}

/** A camera found by `discover` (lib/camera/onvif-discovery.ts). */
export interface DiscoveredDevice {
  /** The device's name (its `onvif://www.onvif.org/name/…` scope), else its model, else its address. */
  name: string;
  /** The model (the `hardware` scope, or GetDeviceInformation when read). */
  model?: string;
  manufacturer?: string;
  /** The host of the device service. */
  address: string;
  /** The port of the device service. */
  port: number;
  /** The device service URL, for `readCamera`. */
  xaddr: string;
  /** Its stable identity (the WS-Discovery endpoint reference, usually `urn:uuid:…`). */
  urn?: string;
  /** Every scope URI it announced. */
  scopes?: string[];
}

/** A media profile of a camera: one encoded stream. */
export interface CameraProfile {
  token: string;
  name: string;
  width?: number;
  height?: number;
  /** `H264`, `H265`, `JPEG`, … */
  encoding?: string;
  fps?: number;
  /** The RTSP URI (RTP unicast), without credentials: the caller adds them. */
  streamUri: string;
  /** The snapshot (JPEG) URI without credentials, when the camera has one. */
  snapshotUri?: string;
}
