/**
 * The chain's source: one batch of 256 CDN events, encoded once, sent again and again as fast as
 * the next actor takes it (the chain measures moving and routing batches, not making events).
 */
import { defineActor } from '../../src/runtime/actor.js';
import { BatchWriter, Codec, type CodecStructures } from '../../src/runtime/codec.js';
import { makeHttpRequestEvents } from '../codec/event.js';

interface Args {
  target: string;
  structures: CodecStructures;
  eventsPerBatch: number;
}

export const actor = defineActor<Args, { batch: Uint8Array }>({
  init(ctx) {
    const writer = new BatchWriter(new Codec(ctx.args.structures));
    writer.begin('http_requests');
    for (const event of makeHttpRequestEvents(ctx.args.eventsPerBatch, 7)) {
      writer.addEvent(String(event.ZoneID), Number(event.EdgeStartTimestamp), event);
    }
    return { batch: writer.finish().slice() };
  },
  async run(ctx, state) {
    const ref = ctx.ref(ctx.args.target);
    while (!ctx.signal.aborted) {
      if (!ref.trySend(state.batch)) await ref.send(state.batch, 1, 60_000);
    }
  },
});
