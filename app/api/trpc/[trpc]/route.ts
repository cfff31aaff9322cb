import { randomUUID } from "node:crypto";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { CLIENT_IP_HEADER } from "~/server/web/auth/constants";
import { getSessionUser } from "~/server/web/auth/session";
import { responseHeaders } from "~/server/web/trpc/init";
import { appRouter } from "~/server/web/trpc/root";

async function handler(req: Request) {
  // A plain HTML form can only send urlencoded, multipart or text/plain bodies; refusing
  // anything but JSON means no cross-site form can ever reach a mutation.
  if (req.method === "POST" && !(req.headers.get("content-type") ?? "").toLowerCase().startsWith("application/json")) {
    return Response.json(
      { error: { message: "Requests to the API must have Content-Type: application/json.", code: "UNSUPPORTED_MEDIA_TYPE" } },
      { status: 415 },
    );
  }
  const requestId = req.headers.get("x-request-id") ?? randomUUID();
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: async () => ({
      session: await getSessionUser(),
      requestId,
      ip: req.headers.get(CLIENT_IP_HEADER) ?? undefined,
    }),
    responseMeta: ({ errors }) => ({ headers: responseHeaders(requestId, errors) }),
  });
}

export { handler as GET, handler as POST };
