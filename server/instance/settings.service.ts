import "server-only";
import { and, eq, gt, inArray, isNull, sql } from "drizzle-orm";
import { getDb, type DbOrTx } from "~/db/client";
import { instanceSettings, invitations, users, workspaces } from "~/db/schema";
import { env } from "~/env";
import type { RequestMeta, UserActor } from "~/server/audit/actor";
import { mutate } from "~/server/audit/mutate";
import { AppError } from "~/server/errors";
import { type COMMAND_STEP_MODES, EmailDomain, SETTING_ENV, UpdateInstanceSettingsInput, type SettingKey } from "~/server/shared/instance.schema";

type Row = typeof instanceSettings.$inferSelect;
type CommandStepMode = (typeof COMMAND_STEP_MODES)[number];

/** What the environment pins. Read on every call, so a process sees the values it started with. */
function envOverrides() {
  const domains = env.SIGNUP_DOMAINS?.split(",")
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => {
      const parsed = EmailDomain.safeParse(d);
      // A misconfiguration must not read as "any domain": refuse loudly, naming the value.
      if (!parsed.success) throw new Error(`SIGNUP_DOMAINS: "${d}" is not a domain (${parsed.error.issues[0]?.message ?? "invalid"}).`);
      return parsed.data;
    });
  return {
    signupOpen: env.SIGNUP === undefined ? undefined : env.SIGNUP === "open",
    signupDomains: domains,
    workspaceCreation: env.WORKSPACE_CREATION,
    commandSteps: env.COMMAND_STEPS === undefined ? undefined : env.COMMAND_STEPS === "enabled" ? ("all" as const) : ("none" as const),
  };
}

async function readRow(db: DbOrTx): Promise<Row | null> {
  const [row] = await db.select().from(instanceSettings).where(eq(instanceSettings.id, "instance"));
  return row ?? null;
}

async function hasInstanceAdmin(db: DbOrTx) {
  const [r] = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.instanceAdmin, true), isNull(users.deactivatedAt)))
    .limit(1);
  return Boolean(r);
}

/** Whether this account administers the instance (and is active). */
export async function isInstanceAdmin(userId: string, db: DbOrTx = getDb()) {
  const [u] = await db
    .select({ admin: users.instanceAdmin })
    .from(users)
    .where(and(eq(users.id, userId), isNull(users.deactivatedAt)));
  return Boolean(u?.admin);
}

/**
 * The settings in force: the environment where it pins one, else the stored row, else the
 * default. Sign-up is open by default only until the instance has an administrator.
 */
export async function effectiveSettings(db: DbOrTx = getDb()) {
  const row = await readRow(db);
  const pinned = envOverrides();
  const signupOpen = pinned.signupOpen ?? row?.signupOpen ?? !(await hasInstanceAdmin(db));
  const commandSteps: CommandStepMode = pinned.commandSteps ?? row?.commandSteps ?? "all";
  const locked: Partial<Record<SettingKey, string>> = {};
  if (pinned.signupOpen !== undefined) locked.signupOpen = `${SETTING_ENV.signupOpen}=${env.SIGNUP}`;
  if (pinned.signupDomains !== undefined) locked.signupDomains = `${SETTING_ENV.signupDomains}=${env.SIGNUP_DOMAINS}`;
  if (pinned.workspaceCreation !== undefined) locked.workspaceCreation = `${SETTING_ENV.workspaceCreation}=${env.WORKSPACE_CREATION}`;
  if (pinned.commandSteps !== undefined) {
    locked.commandSteps = `${SETTING_ENV.commandSteps}=${env.COMMAND_STEPS}`;
    locked.commandStepWorkspaces = locked.commandSteps;
  }
  return {
    signupOpen,
    /** True when nobody chose: open until the first administrator exists. */
    signupOpenIsDefault: pinned.signupOpen === undefined && (row?.signupOpen ?? null) === null,
    /** What an administrator chose (null: never chose). */
    storedSignupOpen: row?.signupOpen ?? null,
    signupDomains: pinned.signupDomains ?? row?.signupDomains ?? [],
    workspaceCreation: pinned.workspaceCreation ?? row?.workspaceCreation ?? "anyone",
    commandSteps,
    commandStepWorkspaces: row?.commandStepWorkspaces ?? [],
    locked,
    updatedAt: row?.updatedAt ?? null,
  };
}
export type EffectiveSettings = Awaited<ReturnType<typeof effectiveSettings>>;

/** The settings page: the settings in force, what pins them, and the workspaces to choose from. */
export async function getInstanceSettings() {
  const db = getDb();
  const settings = await effectiveSettings(db);
  const all = await db.select({ id: workspaces.id, name: workspaces.name, slug: workspaces.slug }).from(workspaces).orderBy(workspaces.name);
  return { ...settings, workspaces: all };
}

const LABELS: Record<SettingKey, string> = {
  signupOpen: "Open sign-up",
  signupDomains: "Allowed e-mail domains",
  workspaceCreation: "Who may create workspaces",
  commandSteps: "Command steps",
  commandStepWorkspaces: "Workspaces allowed command steps",
};

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Changes instance settings (instance administrators only; the router checks, and so does
 * this). A setting the environment pins is refused, naming the variable. Every change is
 * recorded as instance.settings_updated in the instance chain, with before and after.
 */
export async function updateInstanceSettings(actor: UserActor, raw: UpdateInstanceSettingsInput, meta: RequestMeta = {}) {
  const input = UpdateInstanceSettingsInput.parse(raw);
  if (!(await isInstanceAdmin(actor.userId))) throw new AppError("FORBIDDEN", "Only instance administrators change instance settings.");
  const current = await effectiveSettings();
  for (const key of Object.keys(input) as SettingKey[]) {
    const pin = current.locked[key];
    if (pin)
      throw new AppError("PRECONDITION_FAILED", `${LABELS[key]} is set by the environment (${pin}); change it there and restart Steward.`, { field: key });
  }
  if (input.signupDomains) input.signupDomains = [...new Set(input.signupDomains)].sort();
  if (input.commandStepWorkspaces) {
    const ids = [...new Set(input.commandStepWorkspaces)];
    const found = ids.length ? await getDb().select({ id: workspaces.id }).from(workspaces).where(inArray(workspaces.id, ids)) : [];
    if (found.length !== ids.length)
      throw new AppError("INVALID", "One of the chosen workspaces no longer exists; reload the page and choose again.", { field: "commandStepWorkspaces" });
    input.commandStepWorkspaces = ids.sort();
  }
  const diff = (now: EffectiveSettings) => {
    const changes: Record<string, [unknown, unknown]> = {};
    for (const [key, value] of Object.entries(input) as [SettingKey, unknown][]) {
      // Choosing the default explicitly is a change (sign-up stays as it is, but no longer follows the default).
      const prior = key === "signupOpen" ? now.storedSignupOpen : now[key];
      if (!same(prior, value)) changes[key] = [key === "signupOpen" ? now.signupOpen : prior, value];
    }
    return changes;
  };
  if (Object.keys(diff(current)).length === 0) return { changed: [] as string[], settings: await getInstanceSettings() };
  const changed = await mutate(
    actor,
    async (tx, audit) => {
      // One row: created on first use, then locked so two administrators' saves apply one after the other.
      await tx.insert(instanceSettings).values({ id: "instance" }).onConflictDoNothing();
      await tx.select({ id: instanceSettings.id }).from(instanceSettings).where(eq(instanceSettings.id, "instance")).for("update");
      const changes = diff(await effectiveSettings(tx));
      await tx
        .update(instanceSettings)
        .set({ ...input, updatedAt: new Date(), updatedBy: actor.userId })
        .where(eq(instanceSettings.id, "instance"));
      audit({ action: "instance.settings_updated", target: { type: "instance", id: null }, workspaceId: null, changes });
      return changes;
    },
    meta,
  );
  return { changed: Object.keys(changed), settings: await getInstanceSettings() };
}

function domainOf(email: string) {
  return email.slice(email.lastIndexOf("@") + 1).toLowerCase();
}

/**
 * Refuses an account that the instance's sign-up rules do not allow, with the reason:
 * an e-mail outside the allowed domains, or sign-up closed (an open invitation for the
 * address still lets its owner create the account: inviting is how a closed instance grows).
 */
export async function assertSignUpAllowed(email: string, db: DbOrTx = getDb()) {
  const s = await effectiveSettings(db);
  const domain = domainOf(email);
  if (s.signupDomains.length > 0 && !s.signupDomains.includes(domain)) {
    throw new AppError(
      "FORBIDDEN",
      `Sign-up on this Steward instance is limited to e-mail addresses at ${s.signupDomains.join(", ")}; ${domain} is not one of them. Ask its administrator if you need an account.`,
      { field: "email" },
    );
  }
  if (s.signupOpen) return;
  const [invited] = await db
    .select({ id: invitations.id })
    .from(invitations)
    .where(
      and(eq(invitations.email, email.toLowerCase()), isNull(invitations.acceptedAt), isNull(invitations.revokedAt), gt(invitations.expiresAt, sql`now()`)),
    )
    .limit(1);
  if (invited) return;
  throw new AppError(
    "FORBIDDEN",
    "Sign-up is closed on this Steward instance: only invited people can create an account. Ask a workspace owner for an invitation, or an instance administrator to open sign-up.",
    { field: "email" },
  );
}

/** Refuses a new workspace when the instance keeps workspace creation to its administrators. */
export async function assertMayCreateWorkspace(userId: string, db: DbOrTx = getDb()) {
  const s = await effectiveSettings(db);
  if (s.workspaceCreation === "anyone") return;
  if (await isInstanceAdmin(userId, db)) return;
  throw new AppError(
    "FORBIDDEN",
    "On this Steward instance only instance administrators create workspaces. Ask one to create it for you, or to invite you to an existing workspace.",
  );
}

/**
 * Why command steps may not run in this workspace, or null when they may. The environment's
 * COMMAND_STEPS wins; otherwise Settings › Instance: every workspace, the listed ones, or none.
 */
export async function commandStepRefusal(workspaceId: string, db: DbOrTx = getDb()): Promise<string | null> {
  const s = await effectiveSettings(db);
  if (s.commandSteps === "all") return null;
  if (s.commandSteps === "none") {
    return s.locked.commandSteps
      ? `Command steps are disabled on this instance (${s.locked.commandSteps}); ask its administrator, or use the built-in step types.`
      : "Command steps are turned off on this instance (Settings › Instance); ask an instance administrator, or use the built-in step types.";
  }
  if (s.commandStepWorkspaces.includes(workspaceId)) return null;
  return "Command steps are not allowed in this workspace: this instance runs them only in the workspaces its administrators list under Settings › Instance. Ask an instance administrator to add this workspace, or use the built-in step types.";
}
