import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Served by the Palisade server at `/` with an index.html fallback for client-side routes, so
// assets use absolute paths. `npx vite` proxies the API to a local server for development.
export default defineConfig({
  base: '/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, assetsInlineLimit: 0 },
  server: { proxy: { '/api': process.env['PALISADE_URL'] ?? 'http://127.0.0.1:8080' } },
});
