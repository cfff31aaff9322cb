import "server-only";
import type { ServerResponse } from "node:http";

/**
 * Next.js drops Content-Length from a route handler's answer (its send-response.ts forbids
 * the header, as a decoded body may differ in length). A file answer also names its length
 * in this header, and server.ts puts it back as Content-Length on the way out, so a download
 * shows its size and a client can tell a complete body from a cut one.
 */
export const LENGTH_HEADER = "x-steward-content-length";

/** Wraps a Node response so that LENGTH_HEADER becomes Content-Length when the headers are sent. */
export function restoreContentLength(res: ServerResponse) {
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  res.writeHead = (...args: unknown[]) => {
    const length = res.getHeader(LENGTH_HEADER);
    if (length !== undefined) {
      res.removeHeader(LENGTH_HEADER);
      if (!res.hasHeader("content-length") && /^\d+$/.test(String(length))) res.setHeader("content-length", String(length));
    }
    return writeHead(...args);
  };
}
