import { defineActor } from '../../src/index.js';

// Runs in its own worker thread. Each batch is a view into shared memory, valid until handle returns.
export const actor = defineActor<{ label: string }, { batches: number; bytes: number }>({
  init: () => ({ batches: 0, bytes: 0 }),
  handle(batch, ctx, state) {
    state.batches++;
    state.bytes += batch.length;
  },
  stats: (ctx, state) => ({ label: ctx.args.label, ...state }),
});
