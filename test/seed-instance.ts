/*
 * A child process for tests that need a whole instance in a database of its own: migrates
 * the database at DATABASE_URL, seeds the demo workspace (artifacts into ARTIFACT_DIR),
 * signs and publishes a checkpoint of every chain, and says "seeded" on standard output.
 * Run with: node --import tsx --import ./bin/hooks/register.js test/seed-instance.ts
 */
const { runMigrations } = await import("~/db/migrate");
await runMigrations(process.env.DATABASE_URL!);
const { seedDemoIfEmpty } = await import("~/db/seed/demo");
await seedDemoIfEmpty();
const { signAllChangedChains } = await import("~/server/audit/checkpoints.service");
const signed = await signAllChangedChains({ type: "system", job: "audit.checkpoint" });
if (signed.refused) throw new Error(`checkpoint refused on ${signed.refused} chain(s)`);
const { closeDb } = await import("~/db/client");
await closeDb();
process.stdout.write(`seeded ${JSON.stringify(signed)}\n`);
export {};
