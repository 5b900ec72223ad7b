/**
 * The Face Library's people: the deployed face stores, people and their sample pictures, enrolling
 * from an uploaded photo (as face-register enrols on that store), adding and removing samples,
 * renaming, and erasing a person with every trace (the store's erasure: lib/store/face-store.ts).
 */
import { storeEvents } from '../../lib/events/store-events';
import { LIBRARY } from '../../lib/types/defaults';
import type {
  DeleteAnswer,
  EnrolAnswer,
  PersonDetail,
  PersonSummary,
  PersonWithEvents,
  SampleAnswer,
  StoreInfo,
} from '../../lib/types/library';
import { HttpError } from '../shared/admin';
import type { NodeAPI } from '../shared/red';
import {
  actor,
  jpeg,
  metadataOf,
  param,
  personDetail,
  personSummary,
  storeNode,
  storeNodes,
  withEnroller,
  withStore,
  type Handler,
  type Handlers,
} from './context';
import { receiveUpload, uploadDir } from './upload';

export function peopleRoutes(RED: NodeAPI): Handlers {
  const uploadLimit = LIBRARY.uploadMegabytes.default * 2 ** 20;
  const tmp = uploadDir(RED);

  const register: Handler = async (req, res) => {
    const name = param(req, 'name');
    const id = param(req, 'id');
    const metadata = metadataOf(param(req, 'metadata'));
    return receiveUpload(req, res, uploadLimit, tmp, (image) =>
      withStore(RED, req, async (store, provider) => {
        if (id && store.getPerson(id))
          throw new HttpError(409, `a person with id ${id} already exists`, { code: 'EEXISTS' });
        const result = await withEnroller(RED, store, provider.id, (enroller) =>
          enroller.enrol(
            { image, name, id, metadata, actor: actor(req), source: 'upload:facewatch-library' },
            { existing: 'refuse' },
          ),
        );
        const body: EnrolAnswer = { status: result.status, person: personDetail(result.person) };
        return { status: 201, body };
      }),
    );
  };

  const removePerson: Handler = (req) =>
    withStore(RED, req, async (store): Promise<DeleteAnswer> => {
      const id = String(req.params.id);
      const person = store.getPerson(id);
      // An erasure that did not finish (a full disk, a crash) is finished by deleting the id again.
      const pending = (await store.pendingErasures()).some((p) => p.id === id);
      if (!person && !pending) throw new HttpError(404, `no person with id ${id}`);
      const log = await storeEvents(store).existing();
      const events = (await log?.countPerson(id)) ?? 0;
      const files = (person?.samples.filter((s) => s.image).length ?? 0) + events;
      // The store erases everything of theirs: its own files, its detection log's events and their
      // face in other events' frames (an eraser), then tells every detection-log (the tracker
      // forgets them) and face-mqtt (retained topics cleared).
      await store.deletePerson(id, actor(req));
      return { deleted: true, id, events, files };
    });

  return {
    'GET /facewatch/api/stores': async (): Promise<StoreInfo[]> => {
      const out: StoreInfo[] = [];
      for (const { id, name } of storeNodes(RED)) {
        const provider = storeNode(RED, id);
        if (!provider) continue;
        let people: number | null = null;
        try {
          const lease = await provider.acquire('facewatch-library');
          people = lease.resource.size();
          await lease.release();
        } catch {
          // A store that cannot open (locked, corrupt) is listed without a count.
        }
        out.push({ id, name, file: provider.file, people });
      }
      return out;
    },

    'GET /facewatch/api/faces': (req) =>
      withStore(RED, req, (store): PersonSummary[] => {
        const q = param(req, 'q')?.toLowerCase();
        return store
          .listPeople()
          .filter(
            (p) =>
              !q ||
              p.name.toLowerCase().includes(q) ||
              p.id.toLowerCase().includes(q) ||
              JSON.stringify(p.metadata).toLowerCase().includes(q),
          )
          .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
          .map(personSummary);
      }),

    'GET /facewatch/api/faces/:id': (req) =>
      withStore(RED, req, async (store): Promise<PersonWithEvents> => {
        const id = String(req.params.id);
        const person = store.getPerson(id);
        if (!person) throw new HttpError(404, `no person with id ${id}`);
        const log = await storeEvents(store).existing();
        const events = log ? await log.query({ person: id, limit: 20 }) : [];
        return { ...personDetail(person), events };
      }),

    'GET /facewatch/api/faces/:id/thumbnail': (req) =>
      withStore(RED, req, async (store) => {
        const person = store.getPerson(String(req.params.id));
        const sample = person?.samples.find((s) => s.image);
        const image = person && sample && (await store.sampleImage(person.id, sample.id));
        if (!image) throw new HttpError(404, 'no picture of this person');
        return jpeg(image);
      }),

    'GET /facewatch/api/faces/:id/samples/:sample/image': (req) =>
      withStore(RED, req, async (store) => {
        const person = store.getPerson(String(req.params.id));
        const sample = person?.samples.find((s) => s.id === req.params.sample);
        const image = person && sample && (await store.sampleImage(person.id, sample.id));
        if (!image) throw new HttpError(404, 'no such sample picture');
        return jpeg(image);
      }),

    'POST /facewatch/api/register': register,

    'POST /facewatch/api/faces/:id/samples': (req, res) =>
      receiveUpload(req, res, uploadLimit, tmp, (image) =>
        withStore(RED, req, async (store, provider) => {
          const id = String(req.params.id);
          if (!store.getPerson(id)) throw new HttpError(404, `no person with id ${id}`);
          const result = await withEnroller(RED, store, provider.id, (enroller) =>
            enroller.enrol(
              { image, id, actor: actor(req), source: 'upload:facewatch-library' },
              { existing: 'add-sample' },
            ),
          );
          const body: SampleAnswer = { sample: result.sampleId, person: personDetail(result.person) };
          return { status: 201, body };
        }),
      ),

    'DELETE /facewatch/api/faces/:id/samples/:sample': (req) =>
      withStore(RED, req, async (store): Promise<{ person: PersonDetail }> => ({
        person: personDetail(
          await store.removeSample(String(req.params.id), String(req.params.sample), actor(req)),
        ),
      })),

    'PATCH /facewatch/api/faces/:id': (req) =>
      withStore(RED, req, async (store): Promise<{ person: PersonDetail }> => {
        const body = (req.body ?? {}) as { name?: unknown; metadata?: unknown };
        if (typeof body !== 'object' || Array.isArray(body))
          throw new HttpError(400, 'send a JSON object {name?, metadata?}');
        const patch: { name?: string; metadata?: Record<string, unknown> } = {};
        if (body.name !== undefined) {
          if (typeof body.name !== 'string') throw new HttpError(400, 'name must be text');
          patch.name = body.name;
        }
        if (body.metadata !== undefined) patch.metadata = metadataOf(body.metadata) ?? {};
        if (patch.name === undefined && patch.metadata === undefined)
          throw new HttpError(400, 'nothing to change: send name and/or metadata');
        return { person: personDetail(await store.updatePerson(String(req.params.id), patch, actor(req))) };
      }),

    'DELETE /facewatch/api/faces/:id': removePerson,
    'POST /facewatch/api/delete/:id': removePerson,
  };
}
