import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// Flask serves dist/ on the same origin as the API. `npm run dev` (local work only) serves src/ with
// hot reload and proxies /api to the server: `make run` on port 8000, or CRM_BACKEND=http://host:port.
const backend = process.env.CRM_BACKEND ?? 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // scripts/initial-size.mjs reads it: each page's first load (shell + page + static imports).
    manifest: true,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      '/api': { target: backend, changeOrigin: false },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    restoreMocks: true,
  },
});
