// Stand-in for `node:http` in Lambda bundles (aliased by infra/bundling.ts). Dependencies that import
// `node:http` as an ES module (middy's util, for STATUS_CODES) make Node build the module's ESM facade,
// which evaluates every lazy export, `WebSocket` and friends included, and so loads undici at init:
// about 10 ms of a cold start for nothing. Loading it through require keeps those exports lazy.
import { createRequire } from 'node:module';

const http: typeof import('node:http') = createRequire(import.meta.url)('node:http');

export const STATUS_CODES = http.STATUS_CODES;
export const METHODS = http.METHODS;
export default http;
