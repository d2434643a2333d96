// The status page's build: Preact + uPlot, everything in the bundle (no CDN at run time), output in
// web/dist, served by `npm start` at / and by S3 + CloudFront when deployed (docs/decisions.md).
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  // Explicit: a build started from the test runner (NODE_ENV=test) must ship what production ships.
  plugins: [preact({ devToolsEnabled: false, prefreshEnabled: false })],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', reportCompressedSize: true },
});
