/** comlink's Node adapter, typed: it ships without a declaration for its ESM path. */
import type { Endpoint } from 'comlink';
import type { MessagePort } from 'node:worker_threads';
// @ts-expect-error -- the adapter's .mjs has no .d.mts beside it; its signature is restated below.
import nodeAdapter from 'comlink/dist/esm/node-adapter.mjs';

export function nodeEndpoint(port: MessagePort): Endpoint {
  return (nodeAdapter as (port: MessagePort) => Endpoint)(port);
}
