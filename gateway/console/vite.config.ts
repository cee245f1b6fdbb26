import { defineConfig } from 'vite';

// The console is served by the gateway under /console/ (gateway/console.go)
// with a strict CSP: no inline script or style, so the build emits only files.
export default defineConfig({
  base: '/console/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    proxy: {
      '/v1': 'http://127.0.0.1:8080',
      '/hls': 'http://127.0.0.1:8080',
    },
  },
});
