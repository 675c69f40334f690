// The dashboard (`/`) and the example editor (`/examples/editor`), built with fixed file
// names into the Python package; the server adds `?v=<package version>` to cache-bust.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const out = resolve(here, "../src/minibase/web/static");

export default defineConfig({
  base: "/static/",
  plugins: [react()],
  build: {
    outDir: out,
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      input: {
        dashboard: resolve(here, "index.html"),
        editor: resolve(here, "examples/editor.html"),
      },
      output: {
        entryFileNames: "assets/[name].js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: "assets/[name][extname]",
      },
    },
  },
});
