// Prints the browser bundle's size, raw and gzipped (the figure the README
// and docs/typescript-sdk.md quote), and fails when an npm import was left in.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const path = new URL("../dist/tidings.browser.js", import.meta.url);
const code = readFileSync(path);
// An import statement or a re-export (minified: at the start or after ; or }).
if (/(^|[;}\n])(import\s*[\w{*"']|export\s*\*)|\bimport\s*\(/.test(code.toString())) {
  console.error("the browser bundle still imports a package");
  process.exit(1);
}
const gz = gzipSync(code, { level: 9 }).length;
console.log(`dist/tidings.browser.js: ${code.length} bytes, ${gz} bytes gzipped`);
