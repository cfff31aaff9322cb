/*
 * Mentions in review comments: "@" followed by a member's handle — the part of their e-mail
 * before the "@" (`@grace`) — or, where two members share a handle, their whole e-mail
 * (`@grace@acme.com`). Isomorphic: the server notifies the people mentioned; the room
 * autocompletes by name and shows each mention as the person's name, e-mail on hover.
 */
export const MENTION = /(^|[\s(])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)/g;

type Person = { email: string };

/** The mentions written in `body`, lower-cased, trailing dots dropped, each once. */
export function mentionTokens(body: string): string[] {
  const out = new Set<string>();
  for (const m of body.matchAll(MENTION)) {
    const token = m[2]!.toLowerCase().replace(/[.]+$/, "");
    if (token) out.add(token);
  }
  return [...out];
}

/** Whom a mention token names among `people`: an exact e-mail, or a handle only one of them has. */
export function resolveMention<P extends Person>(token: string, people: P[]): P | null {
  const t = token.toLowerCase();
  if (t.includes("@")) return people.find((p) => p.email.toLowerCase() === t) ?? null;
  const matches = people.filter((p) => p.email.toLowerCase().split("@")[0] === t);
  return matches.length === 1 ? matches[0]! : null;
}

/** What to type to mention `person`: the handle when no one else among `people` has it, else the e-mail. */
export function mentionHandle(person: Person, people: Person[]): string {
  const handle = person.email.toLowerCase().split("@")[0]!;
  return people.filter((p) => p.email.toLowerCase().split("@")[0] === handle).length === 1 ? handle : person.email.toLowerCase();
}

/** The e-mail addresses of the people `body` mentions (for callers without the member list). */
export function mentionedEmails(body: string): string[] {
  return mentionTokens(body).filter((t) => t.includes("@"));
}
