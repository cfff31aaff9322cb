#!/usr/bin/env node
// The npm registry mirror this project is developed against lacks some platform builds
// (for example @next/swc-darwin-arm64), so `npm install` silently leaves them out of
// package-lock.json — and `npm ci` then refuses the lockfile on every machine. This adds
// the missing optional platform packages back, with the os/cpu fields their real
// manifests carry, so npm ci skips them on other platforms and fetches them on theirs.
// Run it after any `npm install` that rewrites the lockfile: `node bin/fix-lockfile.mjs`.
import fs from "node:fs";

const OS = ["darwin", "linux", "win32", "freebsd", "android", "openbsd", "netbsd", "sunos", "aix"];
const CPU = {
  arm64: "arm64",
  x64: "x64",
  ia32: "ia32",
  arm: "arm",
  gnueabihf: "arm",
  wasm32: "wasm32",
  ppc64: "ppc64",
  s390x: "s390x",
  riscv64: "riscv64",
  loong64: "loong64",
};

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(fs.readFileSync(file, "utf8"));
let added = 0;
for (const [, pkg] of Object.entries(lock.packages)) {
  for (const [name, range] of Object.entries(pkg.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (lock.packages[key]) continue;
    const tokens = name.split("/").pop().split("-");
    const os = tokens.find((t) => OS.includes(t));
    const cpu = tokens.map((t) => CPU[t]).find(Boolean);
    if (!os && !cpu) continue; // not a platform package: leave it to npm
    const version = String(range).replace(/^[\^~=]/, "");
    lock.packages[key] = { version, ...(cpu ? { cpu: [cpu] } : {}), ...(os ? { os: [os] } : {}), optional: true };
    added++;
  }
}
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))));
lock.packages = sorted;
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`fix-lockfile: added ${added} missing optional platform package(s)`);
