// Builds the messenger into the Python package (src/tidings/web/static/):
// index.html and assets/ with content-hashed names, so the server may cache
// them for a year. `--check` builds into a temporary directory and fails
// (exit 1) when the committed files differ: CI and a pytest test run it.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const check = process.argv.includes("--check");
// `--shipped DIR`: compare with another copy (the test of the check itself).
const at = process.argv.indexOf("--shipped");
const shipped = at > 0 ? resolve(process.argv[at + 1]) : resolve(root, "../../src/tidings/web/static");

// Each entry is a page: its template (with __SCRIPT__ and __STYLE__) and
// the bundle it loads. The console (/console) is a second page beside the
// messenger (/), with its own bundle, so neither loads the other's code.
const pages = [
  { name: "main", entry: "src/main.tsx", template: "src/index.html", html: "index.html" },
  { name: "console", entry: "src/console/main.tsx", template: "src/console/index.html", html: "console.html" },
];

async function buildInto(out) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, "assets"), { recursive: true });
  const result = await build({
    entryPoints: Object.fromEntries(pages.map((p) => [p.name, join(root, p.entry)])),
    bundle: true, minify: true, format: "esm", target: "es2020",
    jsx: "automatic", jsxImportSource: "preact",
    // The SDK by its sources: no separate build step, one bundle.
    alias: { "tidings-client": resolve(root, "../typescript/src/index.ts") },
    entryNames: "[name]-[hash]", outdir: join(out, "assets"),
    metafile: true, write: true, legalComments: "none", logLevel: "warning",
    absWorkingDir: root,  // the metafile's paths are relative to it
  });
  const built = [];
  for (const page of pages) {
    const [path, output] = Object.entries(result.metafile.outputs)
      .find(([, o]) => o.entryPoint && resolve(root, o.entryPoint) === join(root, page.entry));
    const script = path.split("/").pop();
    const style = output.cssBundle.split("/").pop();
    const html = readFileSync(join(root, page.template), "utf8")
      .replace("__SCRIPT__", `assets/${script}`).replace("__STYLE__", `assets/${style}`);
    writeFileSync(join(out, page.html), html);
    built.push(`assets/${script}`, `assets/${style}`);
  }
  // The service worker: a second output with a fixed name (/sw.js), since
  // its URL is what the browser keeps registered; served with no-cache.
  await build({
    entryPoints: [join(root, "src/push/sw.ts")], outfile: join(out, "sw.js"),
    bundle: true, minify: true, format: "iife", target: "es2020",
    write: true, legalComments: "none", logLevel: "warning",
  });
  built.push("sw.js");
  return built;
}

function listing(dir) {
  const files = {};
  for (const sub of ["", "assets"]) {
    for (const e of readdirSync(join(dir, sub), { withFileTypes: true })) {
      if (e.isFile()) files[join(sub, e.name)] = createHash("sha256").update(readFileSync(join(dir, sub, e.name))).digest("hex");
    }
  }
  return files;
}

if (check) {
  const tmp = mkdtempSync(join(tmpdir(), "tidings-web-"));
  try {
    await buildInto(tmp);
    const want = listing(tmp);
    let have = {};
    try { have = listing(shipped); } catch { /* nothing shipped yet */ }
    const stale = [...new Set([...Object.keys(want), ...Object.keys(have)])].filter((k) => want[k] !== have[k]);
    if (stale.length) {
      console.error(`the shipped messenger is stale (${stale.sort().join(", ")}): run \`npm run build\` in clients/web and commit src/tidings/web/static`);
      process.exit(1);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  for (const name of await buildInto(shipped)) {
    const bytes = readFileSync(join(shipped, name));
    console.log(`${name}: ${(bytes.length / 1024).toFixed(1)} KB, ${(gzipSync(bytes, { level: 9 }).length / 1024).toFixed(1)} KB gzipped`);
  }
}
