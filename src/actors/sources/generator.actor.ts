/**
 * The edge generator as a source actor: makes fresh events (templates with new timestamps, RayIDs
 * and ZoneIDs) in batches and sends them to Logfwdr, at a set rate or as fast as the pipeline
 * takes them (a full mailbox makes `send` wait: backpressure reaches the source).
 */

import { setImmediate as yieldTurn } from 'node:timers/promises';
import { defineActor } from '../../runtime/actor.js';
import { BatchWriter } from '../../runtime/codec.js';
import { DATASETS } from '../job.js';
import { EdgeGenerator, type EdgeGeneratorOptions } from './edge-generator.js';
import { TokenBucket } from './token-bucket.js';
import { GATE_OPEN, TYPE_EVENTS } from '../messages.js';
import { SharedGauges } from '../../native/shared-gauges.js';

export interface GeneratorArgs {
  target: string;
  generator: EdgeGeneratorOptions;
  /** Events per second; 0 or absent: as fast as the pipeline takes them. */
  ratePerSecond?: number;
  /** Stop after this many events (absent: run until drained). */
  limit?: number;
  /** Events per batch. Default 512. */
  batchEvents?: number;
  /** SharedGauges whose gauge GATE_OPEN (messages.ts) is 1 when the generator may run; it waits (and makes nothing) while 0. Absent: runs at once. */
  gate?: SharedArrayBuffer;
}

interface State {
  generator: EdgeGenerator;
  writer: BatchWriter;
  sent: number;
}

export const actor = defineActor<GeneratorArgs, State>({
  init(ctx) {
    const generator = new EdgeGenerator(ctx.args.generator);
    return { generator, writer: new BatchWriter(generator.codec), sent: 0 };
  },
  async run(ctx, state) {
    const { target, ratePerSecond, limit } = ctx.args;
    const batchEvents = ctx.args.batchEvents ?? 512;
    const ref = ctx.ref(target);
    const bucket = ratePerSecond ? new TokenBucket({ ratePerSecond, burst: Math.max(batchEvents, ratePerSecond / 10) }, performance.now()) : null;
    const { generator, writer } = state;
    if (ctx.args.gate !== undefined) {
      const gate = SharedGauges.attach(ctx.args.gate);
      while (!ctx.signal.aborted && gate.load(GATE_OPEN) === 0) await gate.waitWhile(GATE_OPEN, 0, 100);
    }
    while (!ctx.signal.aborted && (limit === undefined || state.sent < limit)) {
      let want = Math.min(batchEvents, limit === undefined ? batchEvents : limit - state.sent);
      if (bucket !== null) {
        want = Math.min(want, bucket.take(want, performance.now()));
        if (want === 0) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
      }
      const counts = generator.allocate(want);
      const nowNs = Date.now() * 1e6;
      for (const dataset of DATASETS) {
        let left = counts[dataset];
        while (left > 0) {
          writer.begin(dataset);
          const added = generator.fillBatch(writer, dataset, left, nowNs);
          left -= added;
          const batch = writer.finish();
          if (!ref.trySend(batch, TYPE_EVENTS)) await ref.send(batch, TYPE_EVENTS, 60_000);
          state.sent += added;
        }
      }
      // Lets the control plane in between batches when the mailbox never fills.
      if ((state.sent & 0xffff) < want) await yieldTurn();
    }
  },
  stats: (_ctx, state) => ({ sent: state.sent, produced: state.generator.produced }),
});
