/** The chain's end: decodes every event once and counts them in shared memory. */
import { defineActor } from '../../src/runtime/actor.js';
import { BatchReader, Codec, type CodecStructures } from '../../src/runtime/codec.js';

interface Args {
  structures: CodecStructures;
  /** [0] = events decoded. */
  counter: SharedArrayBuffer;
}

export const actor = defineActor<Args, { reader: BatchReader; counter: Int32Array; status: number }>({
  init: (ctx) => ({ reader: new BatchReader(new Codec(ctx.args.structures)), counter: new Int32Array(ctx.args.counter), status: 0 }),
  handle(batch, _ctx, state) {
    const reader = state.reader.reset(batch);
    const n = reader.count;
    for (let i = 0; i < n; i++) state.status += (reader.decode(i) as { EdgeResponseStatus: number }).EdgeResponseStatus;
    // Publishes progress to the benchmark's main thread.
    Atomics.add(state.counter, 0, n);
  },
});
