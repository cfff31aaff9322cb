import "server-only";
import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import nodemailer from "nodemailer";
import { getDb, type Tx } from "~/db/client";
import { notifications, users } from "~/db/schema";
import { env } from "~/env";
import type { UserActor } from "~/server/audit/actor";
import { publish } from "~/server/realtime/publish";

/*
 * A user's inbox: mentions, reviews assigned to them, approvals they are needed for, and
 * decisions. Rows are written in the transaction of what caused them; after commit the
 * user's open tabs hear about it (live unread count) and, when SMTP is configured, an
 * e-mail goes out (its failure never undoes the change; it is retried at the next send).
 */

export type NewNotification = {
  userId: string;
  workspaceId: string | null;
  kind: (typeof notifications.$inferInsert)["kind"];
  title: string;
  body?: string;
  link?: string;
  actorLabel?: string;
};

/** In the caller's transaction; returns what to deliver after commit. */
export async function notifyTx(tx: Tx, items: NewNotification[]) {
  const unique = items.filter((n, i) => items.findIndex((m) => m.userId === n.userId && m.kind === n.kind && m.link === n.link) === i);
  if (!unique.length) return [];
  return tx
    .insert(notifications)
    .values(await withNames(tx, unique))
    .returning({ id: notifications.id, userId: notifications.userId });
}

/**
 * People as people: callers name the actor by the e-mail they signed in with; the inbox,
 * the home page and the e-mail say the person's name instead (in the label and wherever the
 * title repeats the address). Done here once, for every kind of notification.
 */
async function withNames(tx: Tx, items: NewNotification[]): Promise<NewNotification[]> {
  const emails = [...new Set(items.map((n) => n.actorLabel).filter((l): l is string => !!l?.includes("@")))];
  if (!emails.length) return items;
  const rows = await tx.select({ email: users.email, name: users.name }).from(users).where(inArray(users.email, emails));
  const names = new Map(rows.filter((r) => r.name.trim()).map((r) => [r.email, r.name.trim()]));
  return items.map((n) => {
    const name = n.actorLabel ? names.get(n.actorLabel) : undefined;
    return name ? { ...n, actorLabel: name, title: n.title.split(n.actorLabel!).join(name) } : n;
  });
}

/** After commit: live hint to each recipient, then e-mail if configured. */
export function deliver(rows: { id: string; userId: string }[]) {
  for (const userId of new Set(rows.map((r) => r.userId))) publish.toUser(userId, "notification.created", { userId });
  if (env.SMTP_URL && rows.length) void sendEmails(rows.map((r) => r.id)).catch((err: unknown) => console.error("[notifications] e-mail failed:", err));
}

const transports = new Map<string, nodemailer.Transporter>();
const mailer = (url: string) => {
  let t = transports.get(url);
  if (!t) transports.set(url, (t = nodemailer.createTransport(url)));
  return t;
};

/** Sends the e-mails of these notifications that have not been sent (through SMTP_URL, or `url`); marks each sent. */
export async function sendEmails(ids: string[], url = env.SMTP_URL) {
  if (!url) return;
  const rows = await getDb()
    .select({ n: notifications, email: users.email, name: users.name })
    .from(notifications)
    .innerJoin(users, eq(users.id, notifications.userId))
    .where(and(inArray(notifications.id, ids), isNull(notifications.emailedAt), isNull(users.deactivatedAt)));
  const base = (env.NEXTAUTH_URL ?? "http://localhost:3000").replace(/\/$/, "");
  for (const { n, email, name } of rows) {
    const link = n.link ? `${base}${n.link}` : base;
    await mailer(url).sendMail({
      from: env.SMTP_FROM,
      to: `${name} <${email}>`,
      subject: `[Steward] ${n.title}`,
      text: `${n.title}\n\n${n.body ? `${n.body}\n\n` : ""}Open it: ${link}\n\nYou get this because of your activity in Steward.`,
    });
    await getDb().update(notifications).set({ emailedAt: new Date() }).where(eq(notifications.id, n.id));
  }
}

export async function listNotifications(actor: UserActor, opts: { unreadOnly?: boolean; limit?: number } = {}) {
  return getDb()
    .select()
    .from(notifications)
    .where(and(eq(notifications.userId, actor.userId), opts.unreadOnly ? isNull(notifications.readAt) : undefined))
    .orderBy(desc(notifications.createdAt))
    .limit(Math.min(opts.limit ?? 50, 200));
}

export async function unreadCount(actor: UserActor) {
  const [r] = await getDb()
    .select({ n: sql<number>`count(*)::int` })
    .from(notifications)
    .where(and(eq(notifications.userId, actor.userId), isNull(notifications.readAt)));
  return r?.n ?? 0;
}

/** Marks some (or all) of the user's notifications read. Reading is not audited: it changes nothing but the inbox. */
export async function markRead(actor: UserActor, ids: string[] | "all") {
  const rows = await getDb()
    .update(notifications)
    .set({ readAt: new Date() })
    .where(
      and(
        eq(notifications.userId, actor.userId),
        isNull(notifications.readAt),
        ids === "all" ? undefined : inArray(notifications.id, ids.length ? ids : ["00000000-0000-0000-0000-000000000000"]),
      ),
    )
    .returning({ id: notifications.id });
  publish.toUser(actor.userId, "notification.created", { userId: actor.userId });
  return { marked: rows.length };
}
