/**
 * Enrolment options from face-register's saved settings: what face-register enrols with, and what
 * the Face Library enrols with on a store that a face-register serves (its checks and messages).
 */
import { ENROL } from '../types/defaults';
import type { FaceRegisterSettings } from '../types/node-settings';
import { SettingsReader, type Warn } from '../types/settings-reader';
import type { EnrolOptions } from './enrol';

/** Turns face-register's saved settings into enrolment options, with the defaults of lib/types/defaults.ts. */
export function enrolSettings(def: Partial<FaceRegisterSettings>, warn?: Warn): Partial<EnrolOptions> {
  const r = new SettingsReader(warn);
  return {
    faces: r.choice('faces', ENROL.faces, def.faces),
    existing: r.choice('existing', ENROL.existing, def.existing),
    duplicatePolicy: r.choice('duplicatePolicy', ENROL.duplicatePolicy, def.duplicatePolicy),
    duplicateThreshold: r.number('duplicateThreshold', ENROL.duplicateThreshold, def.duplicateThreshold),
    minFaceSize: r.number('minFaceSize', ENROL.minFaceSize, def.minFaceSize),
    minSharpness: r.number('minSharpness', ENROL.minSharpness, def.minSharpness),
    maxYaw: r.number('maxYaw', ENROL.maxYaw, def.maxYaw),
    maxBytes: Math.round(r.number('maxMegabytes', ENROL.maxMegabytes, def.maxMegabytes) * 1024 * 1024),
  };
}
