import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Who loads what, followed transitively (the lint's zones see one import at a time): from each
 * process's entry point, every file it can reach by a value import (type-only imports are erased
 * and load nothing). See docs/ARCHITECTURE.md, "Who loads what".
 */
const root = path.resolve(import.meta.dirname, "..");
const IMPORT = /^\s*(?:import|export)\s+(type\s+)?([^;]*?)\s+from\s+"([^"]+)"|^\s*import\s+"([^"]+)"|\bimport\("([^"]+)"\)/gm;

function resolve(spec: string, from: string): string | { pkg: string } {
  const base = spec.startsWith("~/") ? path.join(root, spec.slice(2)) : spec.startsWith(".") ? path.resolve(path.dirname(from), spec) : null;
  if (!base) return { pkg: spec };
  for (const ext of ["", ".ts", ".tsx", "/index.ts", "/index.tsx"]) if (existsSync(base + ext) && statSync(base + ext).isFile()) return base + ext;
  throw new Error(`${path.relative(root, from)}: cannot resolve ${spec}`);
}

/** Every value import of a file: files by path, packages by name. */
function imports(file: string) {
  const out: (string | { pkg: string })[] = [];
  if (!/\.(ts|tsx|mjs|js)$/.test(file)) return out;
  for (const m of readFileSync(file, "utf8").matchAll(IMPORT)) {
    const [, typeOnly, clause, from, bare, dynamic] = m;
    if (typeOnly) continue;
    // `import { type A, type B } from` loads nothing either.
    if (
      clause?.startsWith("{") &&
      clause
        .slice(1, -1)
        .split(",")
        .every((x) => !x.trim() || x.trim().startsWith("type "))
    )
      continue;
    out.push(resolve((from ?? bare ?? dynamic)!, file));
  }
  return out;
}

function closure(entries: string[]) {
  const files = new Set<string>();
  const packages = new Set<string>();
  const stack = entries.map((e) => path.join(root, e));
  while (stack.length) {
    const f = stack.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    for (const d of imports(f)) {
      if (typeof d === "string") stack.push(d);
      else packages.add(d.pkg);
    }
  }
  return { files: [...files].map((f) => path.relative(root, f)), packages: [...packages] };
}

function walk(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : /\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name) ? [path.join(dir, e.name)] : [],
  );
}

describe("who loads what", () => {
  it("the browser loads components/ and server/shared/ only, and nothing server-only", () => {
    const client = [...walk("components"), ...walk("app")].filter((f) => /^\s*["']use client["']/.test(readFileSync(path.join(root, f), "utf8")));
    expect(client.length).toBeGreaterThan(20);
    const { files, packages } = closure(client);
    expect(files).toContain("server/shared/permissions.ts");
    expect(files.filter((f) => !/^(components|app|server\/shared)\//.test(f))).toEqual([]);
    expect(packages.filter((p) => /^(node:|server-only$|drizzle-orm|postgres$|pg-boss$|onnxruntime|@node-rs\/argon2)/.test(p))).toEqual([]);
  });

  it("the inference process loads neither web code, the worker, nor argon2", () => {
    const { files, packages } = closure(["workers/inference/index.ts"]);
    expect(files).toContain("server/tokens/tokens.service.ts");
    expect(files.filter((f) => /^(server\/web|workers\/worker|components|app)\//.test(f))).toEqual([]);
    expect(packages).not.toContain("@node-rs/argon2");
  });

  it("the worker loads no web code and not the inference process", () => {
    const { files } = closure(["workers/worker/index.ts"]);
    expect(files).toContain("workers/worker/handlers/pipeline-step.handler.ts");
    expect(files.filter((f) => /^(server\/web|workers\/inference|components|app)\//.test(f))).toEqual([]);
  });

  it("no core module reaches web code or a process folder", () => {
    const core = walk("server").filter((f) => !f.startsWith("server/web/") && !f.endsWith("test-clients.ts"));
    expect(core.length).toBeGreaterThan(50);
    expect(closure(core).files.filter((f) => /^(server\/web|workers|components|app)\//.test(f))).toEqual([]);
  });
});
