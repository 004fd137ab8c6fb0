/**
 * Where a job's upload objects go. One instance per job: a destination that fails holds up only its
 * own job's objects, and so only that job's buffer in Buftee (no head-of-line blocking).
 *
 * Named like job.ts's `Destination` on purpose, one word for one thing: that type is a
 * destination's config, this is a destination opened from it (createDestination).
 */

import type { Compression } from '../../job.js';
import type { StagedPart, UploadObject } from '../upload-object.js';

export interface Destination {
  /**
   * Delivers one object. Resolves only once the destination has confirmed it (an HTTP 2xx, a file
   * renamed into place, bytes handed to the stream), so the caller acks the object's events to
   * Buftee then and not before. Rejects with a LogpushError: `retryable` says whether the same
   * object may be put again later.
   */
  put(object: UploadObject): Promise<void>;
  /**
   * True when a settled put (resolved or rejected) reads nothing of the object's body any more,
   * so the caller may reuse its memory. Left out: the body may still be read (a request body
   * being written when its response came).
   */
  readonly releasesBody?: boolean;
  /**
   * Where a job's open object can put its leading lines as it grows, instead of holding them until
   * it is sealed (an object-store temporary file). Only destinations that can keep them have it.
   * The part travels on the sealed object (UploadObject.staged), gzipped chunk by chunk as
   * `compression` says, and put() writes the object's body after it.
   */
  openStaging?(jobId: string, compression: Compression): StagedPart;
  /** Stops: puts still waiting to retry reject with ERR_DESTINATION_CLOSED; resources are released. */
  close(): Promise<void>;
}
