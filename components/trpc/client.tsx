"use client";

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink, loggerLink, TRPCClientError } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { useState } from "react";
import superjson from "superjson";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "~/server/web/trpc/root";
import { DATABASE_UNAVAILABLE, RECONNECTING_MESSAGE } from "~/server/shared/unavailable";

/** What each procedure answers, inferred from the router: components use these instead of copying server types. */
export type RouterOutputs = inferRouterOutputs<AppRouter>;

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

function makeQueryClient() {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        retry: (count, err) => {
          const code = err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined;
          if (code && ["UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "BAD_REQUEST"].includes(code)) return false;
          // The database is restarting: keep retrying (every Retry-After seconds) for about a minute.
          if (databaseUnavailable(err)) return count < 12;
          return count < 2;
        },
        retryDelay: (count, err) => (databaseUnavailable(err) ? databaseUnavailable(err)! * 1000 : Math.min(1000 * 2 ** count, 30_000)),
      },
    },
  });
}

export function TRPCReactProvider({ children }: { children: React.ReactNode }) {
  const [queryClient] = useState(makeQueryClient);
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      links: [
        loggerLink({ enabled: (op) => process.env.NODE_ENV === "development" && op.direction === "down" && op.result instanceof Error }),
        httpBatchLink({ url: "/api/trpc", transformer: superjson }),
      ],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}

/** Seconds to wait when the call failed because the server's database is away (503), else null. */
export function databaseUnavailable(err: unknown): number | null {
  if (!(err instanceof TRPCClientError)) return null;
  const data = err.data as { reason?: string | null; retryAfter?: number | null } | undefined;
  return data?.reason === DATABASE_UNAVAILABLE ? (data.retryAfter ?? 5) : null;
}

/** The message to show for a failed call: 4xx messages verbatim, never a 5xx's internals. */
export function errorMessage(err: unknown): string {
  if (databaseUnavailable(err)) return RECONNECTING_MESSAGE;
  if (err instanceof TRPCClientError) {
    const data = err.data as { httpStatus?: number } | undefined;
    if (data?.httpStatus && data.httpStatus >= 500) return "Something went wrong. Please try again.";
    return err.message;
  }
  return "Something went wrong. Please try again.";
}

export function fieldErrors(err: unknown): Record<string, string> {
  if (!(err instanceof TRPCClientError)) return {};
  const data = err.data as { zodError?: { fieldErrors?: Record<string, string[]> }; field?: string | null } | undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data?.zodError?.fieldErrors ?? {})) if (v?.[0]) out[k] = v[0];
  if (data?.field && !out[data.field]) out[data.field] = err.message;
  return out;
}
