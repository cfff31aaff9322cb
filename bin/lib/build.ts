import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const SOURCE_DIRS = ["app", "components", "server", "db", "types"];
const SOURCE_FILES = ["next.config.ts", "proxy.ts", "env.ts", "package-lock.json", "postcss.config.mjs", "tsconfig.json"];

function newestSourceMtime(root: string): number {
  let newest = 0;
  const walk = (p: string) => {
    for (const e of fs.readdirSync(p, { withFileTypes: true })) {
      if (e.name === "node_modules" || e.name.startsWith(".")) continue;
      const full = path.join(p, e.name);
      if (e.isDirectory()) walk(full);
      else newest = Math.max(newest, fs.statSync(full).mtimeMs);
    }
  };
  for (const d of SOURCE_DIRS) if (fs.existsSync(path.join(root, d))) walk(path.join(root, d));
  for (const f of SOURCE_FILES) {
    if (fs.existsSync(path.join(root, f))) newest = Math.max(newest, fs.statSync(path.join(root, f)).mtimeMs);
  }
  return newest;
}

/** True when there is no production build or a source file is newer than it. */
export function buildIsStale(root: string): boolean {
  const buildId = path.join(root, ".next", "BUILD_ID");
  return !fs.existsSync(buildId) || fs.statSync(buildId).mtimeMs < newestSourceMtime(root);
}

/** Runs `next build` with its own progress output; resolves to the exit code. */
export function buildWebApp(root: string, stdio: "inherit" | "ignore" = "inherit"): Promise<number> {
  return new Promise((resolve) => {
    const b = spawn(process.execPath, [path.join(root, "node_modules", "next", "dist", "bin", "next"), "build"], {
      cwd: root,
      stdio,
      env: { ...process.env, SKIP_ENV_VALIDATION: "1", NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production" },
    });
    b.on("exit", (c) => resolve(c ?? 1));
  });
}
