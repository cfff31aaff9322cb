import { unstorableString } from "~/server/platform/json-body";

/*
 * The feedback body, checked before anything reaches the database: every refusal names
 * the item and the field, so a malformed body is a 400 and never a driver error.
 */

export class FeedbackError extends Error {}

export type FeedbackItem = { requestId: string; label: unknown };

const SHAPE = 'Send { "requestId": "…", "label": … } or { "feedback": [ { "requestId": "…", "label": … }, … ] } (at most 10,000).';
export const MAX_FEEDBACK_ITEMS = 10_000;

/** `{ requestId, label }` or `{ feedback: [ … ] }` → the items, or a FeedbackError naming what is wrong. */
export function parseFeedbackRequest(body: unknown): FeedbackItem[] {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new FeedbackError(`The body must be a JSON object, not ${describe(body)}. ${SHAPE}`);
  }
  const b = body as Record<string, unknown>;
  let items: unknown[];
  let name: (i: number) => string;
  if ("feedback" in b) {
    const extra = Object.keys(b).filter((k) => k !== "feedback");
    if (extra.length)
      throw new FeedbackError(`Unknown field${extra.length > 1 ? "s" : ""} ${extra.map((k) => `"${k}"`).join(", ")} beside "feedback". ${SHAPE}`);
    if (!Array.isArray(b.feedback)) throw new FeedbackError(`"feedback" must be a list, not ${describe(b.feedback)}. ${SHAPE}`);
    items = b.feedback;
    name = (i) => `feedback[${i}]`;
  } else {
    items = [b];
    name = () => "the body";
  }
  if (!items.length || items.length > MAX_FEEDBACK_ITEMS) throw new FeedbackError(`"feedback" holds ${items.length} items. ${SHAPE}`);
  return items.map((f, i) => {
    if (f === null || typeof f !== "object" || Array.isArray(f))
      throw new FeedbackError(`${name(i)} must be an object { "requestId": "…", "label": … }, not ${describe(f)}.`);
    const { requestId, label, ...rest } = f as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length)
      throw new FeedbackError(
        `${name(i)} has unknown field${extra.length > 1 ? "s" : ""} ${extra.map((k) => `"${k}"`).join(", ")}: send "requestId" and "label".`,
      );
    if (typeof requestId !== "string" || !/^[\w.-]{1,100}$/.test(requestId)) {
      throw new FeedbackError(
        `${name(i)}.requestId must be the request id a prediction returned (letters, digits, "-", "_" or ".", at most 100), not ${describe(requestId)}.`,
      );
    }
    if (label === undefined) throw new FeedbackError(`${name(i)}.label is required: the ground truth for that prediction.`);
    if (label === null) throw new FeedbackError(`${name(i)}.label is null: send the ground truth (a number, a string, true/false, a list or an object).`);
    const bad = unstorableString(label, `${name(i)}.label`);
    if (bad) throw new FeedbackError(`${bad.path} holds ${bad.reason}, which cannot be stored; remove it.`);
    return { requestId, label };
  });
}

function describe(v: unknown) {
  if (v === null) return "null";
  if (v === undefined) return "missing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === "number" || typeof v === "boolean") return `${typeof v} ${v}`;
  return typeof v === "object" ? "an object" : typeof v;
}
