/**
 * The shapes the Face Library's REST API answers with (README, "Face Library REST API"): the
 * server's own types (lib/types/library.ts), so the page and the API cannot drift apart.
 */
export type { DetectionEvent } from '../../lib/types/events';
export type {
  CameraInfo,
  DeleteAnswer,
  EnrolAnswer,
  EventsAnswer,
  LiveFace,
  LiveFrame,
  PersonSummary,
  PersonDetail,
  PersonWithEvents,
  SampleAnswer,
  SampleSummary,
  StatsAnswer,
  StoreInfo,
  VisitorChangeAnswer,
  VisitorDetail,
  VisitorEnrolAnswer,
  VisitorForgetAnswer,
  VisitorsAnswer,
  VisitorSummary,
} from '../../lib/types/library';
