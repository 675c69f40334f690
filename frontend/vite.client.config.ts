// `/client/minibase.js`: the browser client as one ES module (yjs, y-websocket and
// zustand bundled in), for pages that use Minibase without a build step.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
import { defineConfig } from "vite";

export default defineConfig({
  build: {
    outDir: resolve(here, "../src/minibase/web/static/client"),
    emptyOutDir: false,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
    lib: {
      entry: resolve(here, "src/client/minibase.ts"),
      formats: ["es"],
      fileName: () => "minibase.js",
    },
  },
});
