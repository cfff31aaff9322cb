import { REST_ROUTES } from "~/server/web/rest/routes";
import { handleRest } from "~/server/web/rest/rest";
import type { SessionUser } from "~/server/web/trpc/context";

/** Calls the REST layer as the HTTP route does, without a server: real services, real Postgres. */
export async function rest(
  method: string,
  path: string,
  opts: { token?: string; json?: unknown; form?: FormData; session?: SessionUser | null; headers?: Record<string, string>; raw?: boolean } = {},
) {
  const headers = new Headers(opts.headers);
  if (opts.token) headers.set("authorization", `Bearer ${opts.token}`);
  let body: BodyInit | undefined;
  if (opts.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(opts.json);
  } else if (opts.form) {
    const r = new Request("http://x", { method: "POST", body: opts.form });
    headers.set("content-type", r.headers.get("content-type")!);
    body = await r.arrayBuffer();
  }
  const req = new Request(`http://localhost/api/v1${path}`, { method, headers, body });
  const res = await handleRest(req, REST_ROUTES, new URL(req.url).pathname, async () => opts.session ?? null);
  if (opts.raw || !(res.headers.get("content-type") ?? "").startsWith("application/json")) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    const data = {} as Record<string, unknown> & { error?: { code: string; message: string; field?: string } };
    return { status: res.status, data, text: new TextDecoder().decode(bytes), bytes, headers: res.headers };
  }
  const data = (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string; field?: string } };
  return { status: res.status, data, text: undefined as string | undefined, bytes: undefined as Uint8Array | undefined, headers: res.headers };
}

export function form(file: Uint8Array | string, filename: string, metadata?: unknown) {
  const f = new FormData();
  if (metadata !== undefined) f.set("metadata", JSON.stringify(metadata));
  f.set("file", new Blob([typeof file === "string" ? file : new Uint8Array(file)]), filename);
  return f;
}
