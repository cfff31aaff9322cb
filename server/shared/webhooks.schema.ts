import { z } from "zod";
import { AUDIT_ACTIONS } from "~/server/shared/audit-actions";

/*
 * What a webhook may subscribe to (isomorphic: the settings form lists it, the services
 * validate with it). Events are the workspace's audit actions, by the same names as in the
 * trail and its export. Sign-ins, accounts and instance settings are not offered: they are
 * about people and the instance, not about the workspace's models, and carry addresses.
 */

const NOT_OFFERED = /^(user|instance)\./;

/** Every audit action a webhook can receive, in catalogue order. */
export const WEBHOOK_EVENTS = AUDIT_ACTIONS.filter((a) => !NOT_OFFERED.test(a));

/** The catalogue grouped by domain (the part before the dot): `{ domain: "model", events: [...] }`. */
export function webhookEventGroups() {
  const groups = new Map<string, string[]>();
  for (const e of WEBHOOK_EVENTS) {
    const domain = e.split(".")[0]!;
    groups.set(domain, [...(groups.get(domain) ?? []), e]);
  }
  return [...groups].map(([domain, events]) => ({ domain, events }));
}

/** The event a "send test event" carries (never an audit action). */
export const TEST_EVENT = "webhook.test";

/** Alert webhooks made before subscriptions existed receive these, as they always did. */
export const ALERT_EVENTS = ["alert.fired", "alert.resolved"];

const PATTERN_SHAPE = /^[a-z_*]+(\.[a-z_*]+)?$/;

/** A pattern as a regular expression: `*` stands for any run of characters (dots included). */
export function patternRegExp(pattern: string) {
  return new RegExp(`^${pattern.replace(/[.]/g, "\\.").replace(/\*/g, ".*")}$`);
}

/** Whether an action matches any of the patterns. */
export function matchesAny(patterns: readonly string[], action: string) {
  return patterns.some((p) => (p.includes("*") ? patternRegExp(p).test(action) : p === action));
}

/** The catalogue's events a pattern matches. */
export function eventsMatching(pattern: string): string[] {
  return WEBHOOK_EVENTS.filter((e) => matchesAny([pattern], e));
}

/** Why a pattern is refused (a sentence), or null. A pattern must match at least one event of the catalogue. */
export function patternProblem(pattern: string): string | null {
  if (!PATTERN_SHAPE.test(pattern)) return `"${pattern}" is not an event name or pattern (letters, _ and *, as in model.version_registered or deployment.*).`;
  if (eventsMatching(pattern).length) return null;
  // A near miss named the way the issue tracker or another tool names it (rollout.failed, alias.moved).
  const words = pattern.split(/[.*]+/).filter((w) => w.length > 2);
  const score = (e: string) => words.filter((w) => e.includes(w)).length;
  const best = Math.max(0, ...WEBHOOK_EVENTS.map(score));
  const near = best ? WEBHOOK_EVENTS.filter((e) => score(e) === best).slice(0, 3) : [];
  return `"${pattern}" matches no event${near.length ? `; did you mean ${near.join(", ")}?` : "."} See the event catalogue.`;
}

const Pattern = z
  .string()
  .trim()
  .min(1, "an event pattern is empty.")
  .max(80)
  .superRefine((p, ctx) => {
    const problem = patternProblem(p);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

const Name = z.string().trim().min(1).max(63);

/** What a webhook receives; `models` and `deployments` narrow it to events about those (by name; empty: any). */
export const WebhookSubscription = z.object({
  events: z.array(Pattern).min(1, "events: choose at least one event or pattern.").max(50),
  models: z.array(Name).max(20).default([]),
  deployments: z.array(Name).max(20).default([]),
});

export const WebhookUrl = z
  .string()
  .trim()
  .max(2000)
  .pipe(z.url("url must be an http(s) URL.").refine((u) => /^https?:\/\//.test(u), "url must be an http(s) URL."));

const WebhookName = z.string().trim().min(1, "name is required.").max(60);

export const CreateWebhookInput = z.object({
  name: WebhookName,
  url: WebhookUrl,
  /** Default: the alert events (what a webhook received before subscriptions). */
  events: WebhookSubscription.shape.events.default(ALERT_EVENTS),
  models: WebhookSubscription.shape.models,
  deployments: WebhookSubscription.shape.deployments,
});
export type CreateWebhookInput = z.input<typeof CreateWebhookInput>;

export const UpdateWebhookInput = z.object({
  id: z.uuid("id must be a webhook's id."),
  data: z.object({
    name: WebhookName.optional(),
    url: WebhookUrl.optional(),
    events: WebhookSubscription.shape.events.optional(),
    models: z.array(Name).max(20).optional(),
    deployments: z.array(Name).max(20).optional(),
  }),
});
export type UpdateWebhookInput = z.input<typeof UpdateWebhookInput>;

export const WebhookIdInput = z.object({ id: z.uuid("id must be a webhook's id.") });

export const WebhookDeliveriesInput = z.object({
  id: z.uuid("id must be a webhook's id."),
  /** The `nextCursor` of the previous page. */
  cursor: z.string().max(200).optional(),
  limit: z.number().int().min(1).max(100).default(20),
});
export type WebhookDeliveriesInput = z.input<typeof WebhookDeliveriesInput>;

export const RedeliverInput = z.object({
  id: z.uuid("id must be a webhook's id."),
  deliveryId: z.uuid("deliveryId must be a delivery's id."),
});
export type RedeliverInput = z.input<typeof RedeliverInput>;
