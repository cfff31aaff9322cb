import { inject } from "vitest";

process.env.DATABASE_URL = inject("databaseUrl");
process.env.AUTH_SECRET ??= "test-secret-test-secret-test-secret-0123";
process.env.NEXTAUTH_URL ??= "http://localhost:3000";
