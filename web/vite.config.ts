import { defineConfig } from 'vite';

// Vite 6: it runs on Debian 12's Node.js 18 as well as on 20+ (Vite 7 and 8 need 20.19).
// The controller serves dist/ (see mobile-api/src/routes/console.rs) under a strict
// Content-Security-Policy: one script file and one style sheet from this origin, nothing
// inline. Asset names carry a content hash, so the controller caches them for a year.
export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    // No inline modulepreload polyfill, no inlined assets (data: URLs are allowed for images
    // only, and a hashed file is as cheap).
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev` against a controller on 127.0.0.1:8080.
    proxy: { '/api': 'http://127.0.0.1:8080', '/python': 'http://127.0.0.1:8080', '/login': 'http://127.0.0.1:8080' },
  },
});
