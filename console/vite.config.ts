// Vite build of the console. The bundle is committed into the API package (console_dist) and a
// browser test rebuilds it from this source and compares hashes, so the build must be
// deterministic: content-hashed names, no timestamps, no source maps, no inlined absolute paths.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: "../services/api/src/headwater/api/console_dist",
    emptyOutDir: true,
    sourcemap: false,
    // The polyfill would be an inline script; the console's CSP allows only its own files.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1000,
  },
  server: {
    // `npm run dev` proxies the API of a local `headwater dev` (HEADWATER_URL to change it).
    proxy: Object.fromEntries(
      ["/assistants", "/threads", "/runs", "/store", "/workers", "/queue", "/console/config.json"].map(
        (p) => [p, process.env.HEADWATER_URL ?? "http://127.0.0.1:8123"],
      ),
    ),
  },
});
