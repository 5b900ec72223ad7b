/** The shapes the Face Library's REST API answers with (README, "REST API"). */
import type { DetectionEvent } from '../../lib/types/events';

export type { DetectionEvent };

export interface StoreInfo {
  id: string;
  name: string;
  file: string;
  people: number;
}

export interface PersonSummary {
  id: string;
  name: string;
  metadata: Record<string, unknown>;
  samples: number;
  created: string;
  updated: string;
}

export interface SampleInfo {
  id: string;
  created: string;
  quality?: unknown;
}

export interface PersonDetail {
  id: string;
  name: string;
  metadata: Record<string, unknown>;
  created: string;
  updated: string;
  samples: SampleInfo[];
  events: DetectionEvent[];
}

export interface EventsAnswer {
  events: DetectionEvent[];
  cameras: string[];
}

export interface StatsAnswer {
  people: number;
  eventsToday: number;
  today: {
    byPerson: { id: string; name: string; count: number }[];
    byCamera: { camera: string; count: number }[];
  };
  hours: number[];
}

export interface CameraInfo {
  id: string;
  name: string;
  camera: string;
  state: string;
  fps: number;
  width?: number;
  height?: number;
  reason?: string;
  live: boolean;
}

export interface LiveFace {
  box: { x: number; y: number; width: number; height: number };
  name: string | null;
  known: boolean;
  confidence: number;
}

export interface LiveFrame {
  seq: number;
  ts: number | string;
  width: number;
  height: number;
  faces: LiveFace[];
}
