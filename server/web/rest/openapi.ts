import "server-only";
import { z } from "zod";
import type { RestRoute } from "./rest";

const ERROR = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        field: { type: "string", description: "The input at fault (for a validation failure, the path of its first issue)." },
        issues: {
          type: "array",
          description: "Every issue of a validation failure.",
          items: { type: "object", properties: { path: { type: "string" }, message: { type: "string" } }, required: ["path", "message"] },
        },
      },
      required: ["code", "message"],
    },
    requestId: { type: "string" },
  },
};

/** OpenAPI 3.1, built from the same route table that serves the requests. */
export function openApiDocument(routes: RestRoute[], serverUrl: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params = r.params ? (z.toJSONSchema(r.params, { io: "input", unrepresentable: "any" }) as { properties?: Record<string, unknown> }) : {};
    const query = r.query
      ? (z.toJSONSchema(r.query, { io: "input", unrepresentable: "any" }) as { properties?: Record<string, unknown>; required?: string[] })
      : {};
    const parameters = [
      ...Object.entries(params.properties ?? {}).map(([name, schema]) => ({ name, in: "path", required: true, schema })),
      ...Object.entries(query.properties ?? {}).map(([name, schema]) => ({ name, in: "query", required: (query.required ?? []).includes(name), schema })),
    ];
    const requestBody = r.body
      ? { required: true, content: { "application/json": { schema: z.toJSONSchema(r.body, { io: "input", unrepresentable: "any" }) } } }
      : r.multipart
        ? {
            required: true,
            content: {
              "multipart/form-data": {
                schema: {
                  type: "object",
                  properties: {
                    ...Object.fromEntries(Object.entries(r.multipart.fields).map(([k, d]) => [k, { type: "string", description: d }])),
                    [r.multipart.file]: { type: "string", format: "binary" },
                  },
                  required: [r.multipart.file],
                },
              },
            },
          }
        : r.raw
          ? { required: true, content: { [r.raw.contentType]: { schema: { type: "string", format: "binary", description: r.raw.description } } } }
          : undefined;
    const err = (d: string) => ({ description: d, content: { "application/json": { schema: ERROR } } });
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      ...(r.permission ? { "x-steward-permission": r.permission, security: [{ bearer: [] }, { session: [] }] } : { security: [] }),
      parameters,
      ...(requestBody ? { requestBody } : {}),
      responses: {
        [String(r.status ?? 200)]: { description: "Success", content: { "application/json": { schema: { type: "object" } } } },
        "400": err("Invalid input: the message names the field."),
        "401": err("No valid session or token."),
        "403": err("The role does not allow this."),
        "404": err("Not found, or not visible to the caller."),
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Steward API",
      version: "1",
      description:
        "The registry of models and datasets. Authenticate with an API token (Settings › API tokens): `Authorization: Bearer stw_…`. A token acts in its own workspace with its role.",
    },
    servers: [{ url: serverUrl }],
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "An API token, stw_…" },
        session: {
          type: "apiKey",
          in: "cookie",
          name: "next-auth.session-token",
          description: "A browser session (writes also need the X-Steward-Client header).",
        },
      },
    },
    paths,
  };
}
