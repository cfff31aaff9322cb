import { env } from "~/env";
import { getSessionUser } from "~/server/auth/session";
import { openApiDocument } from "~/server/rest/openapi";
import { handleRest } from "~/server/rest/rest";
import { REST_ROUTES } from "~/server/rest/routes";

async function handler(req: Request) {
  const { pathname } = new URL(req.url);
  if (pathname === "/api/v1/openapi.json" && req.method === "GET") {
    return Response.json(openApiDocument(REST_ROUTES, `${env.NEXTAUTH_URL ?? new URL(req.url).origin}/api/v1`));
  }
  return handleRest(req, REST_ROUTES, pathname, getSessionUser);
}

export { handler as GET, handler as POST, handler as PUT, handler as DELETE };
