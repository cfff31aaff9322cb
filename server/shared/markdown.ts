/*
 * Mentions in review comments: "@" followed by a member's e-mail address. Isomorphic: the
 * server notifies the people mentioned; the room autocompletes and highlights them.
 */
export const MENTION = /(^|[\s(])@([\w.+-]+@[\w-]+(?:\.[\w-]+)+)/g;

export function mentionedEmails(body: string): string[] {
  const out = new Set<string>();
  for (const m of body.matchAll(MENTION)) out.add(m[2]!.toLowerCase().replace(/[.]+$/, ""));
  return [...out];
}
