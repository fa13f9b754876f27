import { defineConfig } from 'vitest/config';

// The console is served by geoconsole under /console/; `npm run dev` proxies the API to a running server.
const api = process.env.GEOCONSOLE_URL ?? 'http://127.0.0.1:8080';
const proxied = ['/collections', '/tiles', '/basemap', '/events', '/imports', '/api', '/healthz', '/readyz', '/feeds', '/catalog'];

export default defineConfig({
  base: '/console/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      output: {
        // MapLibre in its own chunk: it changes rarely, so browsers keep it across console releases.
        manualChunks: (id) => (id.includes('node_modules/maplibre-gl') ? 'maplibre' : undefined),
      },
    },
  },
  server: { proxy: Object.fromEntries(proxied.map((p) => [p, api])) },
  test: { include: ['src/**/*.test.ts'] },
});
