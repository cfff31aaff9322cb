/* ---------------------------------------------------------------------------
 * Runs in its own process, with a time and memory budget set by its parent
 * (server/registry/profile.ts): a file that costs DuckDB too much takes this
 * process down, never the web server. Reads one JSON argument, prints one JSON line.
 * ------------------------------------------------------------------------- */
import { profileFile, ProfileRejected, type ProfileOptions } from "./profile-duckdb";

type Args = ProfileOptions & { file: string; format: "csv" | "parquet" };

function reply(v: unknown) {
  process.stdout.write(`${JSON.stringify(v)}\n`, () => process.exit(0));
}

try {
  const args = JSON.parse(process.argv[2] ?? "{}") as Args;
  const { schema, profile } = await profileFile(args.file, args.format, args);
  reply({ ok: true, schema, profile });
} catch (err) {
  if (err instanceof ProfileRejected) reply({ ok: false, message: err.message });
  else {
    console.error(err);
    reply({ ok: false, message: null });
  }
}
