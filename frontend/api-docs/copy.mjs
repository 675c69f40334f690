// Copies the API reference page (/docs) and the Swagger UI files it loads into the
// package's static files, after the vite builds (which empty that folder).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const dist = resolve(here, "../node_modules/swagger-ui-dist");
const out = resolve(here, "../../src/minibase/web/static/api-docs");
mkdirSync(out, { recursive: true });
for (const name of ["index.html", "init.js"]) {
  copyFileSync(resolve(here, name), resolve(out, name));
}
for (const name of ["favicon-32x32.png", "LICENSE", "NOTICE"]) {
  copyFileSync(resolve(dist, name), resolve(out, name));
}
// Without their source-map comments: the maps are not shipped.
for (const name of ["swagger-ui-bundle.js", "swagger-ui.css"]) {
  const text = readFileSync(resolve(dist, name), "utf8");
  writeFileSync(resolve(out, name), text.replace(/\n?\/[/*]# sourceMappingURL=\S+(\s*\*\/)?\s*$/, "\n"));
}
