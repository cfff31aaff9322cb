"use client";

import { Badge } from "~/components/ui/badge";
import { Card, CardHeader } from "~/components/ui/card";
import { ROLE_LABELS } from "~/server/shared/permissions";
import type { Room } from "./room-types";

/** The e-signed decisions on a request, with the hashes each binds. */
export function SignaturesCard({ room }: { room: Room }) {
  return (
    <Card>
      <CardHeader title="Signatures" description="E-signed decisions; each binds the artifact and the evidence shown" />
      <ul className="divide-y divide-border text-sm" data-testid="signatures">
        {room.signatures.length === 0 && <li className="px-5 py-3 text-muted">Nobody has signed yet.</li>}
        {room.signatures.map((s) => (
          <li
            key={s.id}
            className={`px-5 py-2.5 ${s.previousRound ? "opacity-60" : ""}`}
            data-testid="signature"
            data-previous-round={s.previousRound ? "true" : undefined}
          >
            <div className="flex items-center justify-between gap-2">
              <strong>{s.signerName}</strong>
              <span className="flex items-center gap-1">
                {s.previousRound && <Badge tone="stale">previous round</Badge>}
                {s.recordFormat === null && (
                  <Badge tone="failing" title="The stored fields no longer match the record hash">
                    does not verify
                  </Badge>
                )}
                <Badge tone={s.decision === "reject" ? "failing" : s.stale || s.previousRound || (s.decision === "approve" && !s.counts) ? "stale" : "passing"}>
                  {s.decision === "reject" ? "rejected" : s.stale ? "stale" : s.counts ? "approved" : "approved · not counted"}
                </Badge>
              </span>
            </div>
            <div className="text-xs text-muted">
              {ROLE_LABELS[s.role]} · “{s.meaning}” · {s.signedAt.toISOString().replace("T", " ").slice(0, 19)} UTC ·{" "}
              {s.method === "oidc" ? "confirmed by a fresh single-sign-on login" : "confirmed with password"}
            </div>
            <div className="text-xs text-muted" data-testid="signature-holder">
              {s.recordFormat === 1 && s.holderVersion === null
                ? "signed before the alias holder was recorded"
                : `signed while ${s.holderVersion === null ? "nobody" : `v${s.holderVersion}`} held ${room.alias}`}
            </div>
            <div className="mt-1 font-mono text-[10px] break-all text-muted" title="artifact sha256 · evidence hash · record hash">
              artifact {s.artifactSha256.slice(0, 16)}… · evidence {s.evidenceHash.slice(0, 16)}…{s.current ? "" : " (changed since)"} · record{" "}
              {s.recordHash.slice(0, 16)}…
            </div>
          </li>
        ))}
      </ul>
    </Card>
  );
}
