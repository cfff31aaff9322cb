#!/usr/bin/env node
// The `steward` command: `npx steward …` in the project, or `steward …` after `npm link`.
import { register } from "tsx/esm/api";

register();
const { run } = await import("./cli/main.ts");
await run();
