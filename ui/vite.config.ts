import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// `npm run dev` proxies the API to a running `finelab serve` (FINELAB_API, default 127.0.0.1:7878).
const api = process.env.FINELAB_API ?? 'http://127.0.0.1:7878';

export default defineConfig({
  plugins: [svelte()],
  // Relative asset URLs: the same dist/ loads from Tauri's custom protocol and from the server at `/`.
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      '/api': {
        target: api,
        changeOrigin: true,
        // The server refuses requests whose Origin is another site (CSRF guard); the dev server's
        // own origin is one, so the proxy drops the header.
        configure: (proxy) => proxy.on('proxyReq', (req) => req.removeHeader('origin')),
      },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
