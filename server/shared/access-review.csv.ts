import { safeCsvRow } from "~/server/shared/csv";

// Isomorphic: the access review's CSV export (built in the browser from governance.accessReview).

export const ACCESS_REVIEW_CSV_COLUMNS = ["name", "email", "role", "member_since", "last_sign_in", "last_activity", "active_tokens"] as const;

type Row = {
  name: string | null;
  email: string;
  role: string;
  memberSince: Date | string;
  lastSignInAt: Date | string | null;
  lastActivityAt: Date | string | null;
  tokens: { name: string; role: string }[];
};

/**
 * The access review as RFC 4180 CSV with a header row. Names, e-mails and token names are
 * typed by members, so every text cell is neutralised against formula injection.
 */
export function accessReviewCsv(rows: Row[]): string {
  return [
    safeCsvRow([...ACCESS_REVIEW_CSV_COLUMNS]),
    ...rows.map((p) =>
      safeCsvRow([p.name, p.email, p.role, p.memberSince, p.lastSignInAt, p.lastActivityAt, p.tokens.map((t) => `${t.name} (${t.role})`).join("; ")]),
    ),
  ].join("");
}
