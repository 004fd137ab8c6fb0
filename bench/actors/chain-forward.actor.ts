/** A middle link: reads the batch envelope (no payload decode) and forwards the batch. */
import { defineActor } from '../../src/runtime/actor.js';
import { BatchReader, Codec, type CodecStructures } from '../../src/runtime/codec.js';

interface Args {
  target: string;
  structures: CodecStructures;
}

export const actor = defineActor<Args, { reader: BatchReader; events: number }>({
  init: (ctx) => ({ reader: new BatchReader(new Codec(ctx.args.structures)), events: 0 }),
  async handle(batch, ctx, state) {
    // Routing looks at the envelope only: dataset and per-event keys, never the payloads.
    state.events += state.reader.reset(batch).count;
    const ref = ctx.ref(ctx.args.target);
    if (!ref.trySend(batch)) await ref.send(batch, 1, 60_000);
  },
});
