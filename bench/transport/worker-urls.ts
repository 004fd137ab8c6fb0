/**
 * The worker modules, as compiled JS next to this file's own compiled copy in dist/bench/transport
 * (workers load dist/ JS: see src/runtime/worker-module.ts).
 */

export const CONSUMER_WORKER = new URL('./consumer.worker.js', import.meta.url);
export const PRODUCER_WORKER = new URL('./producer.worker.js', import.meta.url);
export const ECHO_WORKER = new URL('./echo.worker.js', import.meta.url);
