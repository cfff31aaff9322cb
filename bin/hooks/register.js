// Lets plain Node processes (web server, worker, CLI) import modules guarded by
// `import "server-only"`. Next.js resolves that package itself per bundle layer;
// outside Next.js we are, by definition, on the server, so it becomes a no-op.
import { register } from "node:module";

register("./server-only-hook.js", import.meta.url);
