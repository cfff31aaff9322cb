"use client";

import { useQuery } from "@tanstack/react-query";
import { FileDown } from "lucide-react";
import Link from "next/link";
import { useWorkspace } from "~/components/shell/workspace-context";
import { useTRPC } from "~/components/trpc/client";
import { Badge, type Tone } from "~/components/ui/badge";
import { Card, CardHeader } from "~/components/ui/card";
import { PageHeader } from "~/components/ui/states";
import { QueryWait, ready } from "~/components/ui/query-state";
import { figure, mb, ms, num, pct, serving, thresholdWithUnits, utc } from "~/server/shared/report-format";

const STATUS_TONE: Record<string, Tone> = {
  complete: "passing",
  partial: "warning",
  missing: "failing",
  pass: "passing",
  warn: "warning",
  fail: "failing",
  live: "passing",
  failed: "failing",
  pending: "pending",
  superseded: "stale",
  passed: "passing",
  warned: "warning",
  skipped: "stale",
};
const th = "px-4 py-2 font-medium";
const td = "px-4 py-2 align-top";

function Missing({ children }: { children: React.ReactNode }) {
  return <p className="px-5 py-3 text-sm text-amber-700 dark:text-amber-300">{children}</p>;
}

function Table({ head, children, testId }: { head: string[]; children: React.ReactNode; testId?: string }) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-sm" data-testid={testId}>
        <thead className="bg-subtle text-left text-xs text-muted">
          <tr>
            {head.map((h) => (
              <th key={h} className={th}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody className="divide-y divide-border">{children}</tbody>
      </table>
    </div>
  );
}

export function ReportPage({ name, version }: { name: string; version: number }) {
  const { workspace } = useWorkspace();
  const trpc = useTRPC();
  const r = useQuery(trpc.governance.report.queryOptions({ workspaceId: workspace.id, name, version }));
  if (!ready(r)) return <QueryWait query={r} rows={10} />;
  const d = r.data;
  const v = d.version;
  const mon = d.monitoring;
  return (
    <>
      <div className="mb-2 text-sm text-muted">
        <Link href={`/w/${workspace.slug}/models`} className="hover:underline">
          Models
        </Link>{" "}
        /{" "}
        <Link href={`/w/${workspace.slug}/models/${encodeURIComponent(name)}`} className="hover:underline">
          {name}
        </Link>{" "}
        /
      </div>
      <PageHeader
        title={`Report: ${name} v${version}`}
        description={`For auditors and regulators. Generated ${utc(d.generatedAt)}; covers ${utc(d.period.from)} to ${utc(d.period.to)}.`}
        actions={
          <a
            className="inline-flex h-9 items-center gap-2 rounded-md bg-accent px-4 text-sm font-medium text-accent-fg"
            href={`/api/v1/workspaces/${workspace.slug}/models/${encodeURIComponent(name)}/versions/${version}/report?format=pdf`}
            data-testid="report-pdf"
          >
            <FileDown className="size-4" aria-hidden /> Download PDF
          </a>
        }
      />
      <div className="space-y-6" data-testid="report">
        <Card>
          <CardHeader title="Frameworks this report maps to" description="Chosen in the workspace settings; with none chosen, every framework in force." />
          <ul className="space-y-1 p-5 text-sm">
            {d.frameworks.map((f) => (
              <li key={f.id}>
                <span className="font-medium">{f.shortName}</span>: {f.version}{" "}
                <Badge tone={f.legalStatus === "superseded" ? "stale" : "serving"}>{f.legalStatusLabel}</Badge>{" "}
                <span className="text-muted">
                  {(["complete", "partial", "missing"] as const).map((s) => `${f.items.filter((i) => i.status === s).length} ${s}`).join(" · ")}
                </span>
              </li>
            ))}
          </ul>
        </Card>

        <Card>
          <CardHeader title="Model version and card" />
          <div className="space-y-2 p-5 text-sm">
            <p className="whitespace-pre-wrap">{v.description ?? "No description recorded."}</p>
            <p className="font-mono text-xs text-muted">
              sha256 {v.sha256} · {mb(v.sizeBytes)} · registered {utc(v.createdAt)}
              {v.gitCommit ? ` · commit ${v.gitCommit}` : ""}
            </p>
            {d.card?.written ? (
              <div data-testid="report-card">
                <p className="text-xs text-muted">
                  Model card revision {d.card.revision}, saved {utc(d.card.at)}
                  {d.card.editedBy ? ` by ${d.card.editedBy}` : ""}
                </p>
                <pre className="mt-2 font-sans text-sm whitespace-pre-wrap">{d.card.markdown}</pre>
              </div>
            ) : (
              <p className="text-amber-700 dark:text-amber-300">
                {d.card ? "Only the blank card template exists: intended use and limitations are not written." : "No model card exists for this version."}
              </p>
            )}
          </div>
        </Card>

        <Card>
          <CardHeader title="Training and evaluation data" />
          {d.data.length === 0 ? (
            <Missing>No dataset versions linked.</Missing>
          ) : (
            <Table head={["Role", "Dataset", "Rows", "Columns", "sha256"]}>
              {d.data.map((x) => (
                <tr key={`${x.role}${x.name}${x.version}`}>
                  <td className={td}>{x.role}</td>
                  <td className={td}>
                    <Link className="text-accent hover:underline" href={`/w/${workspace.slug}/datasets/${encodeURIComponent(x.name)}`}>
                      {x.name}@{x.version}
                    </Link>
                  </td>
                  <td className={`${td} tabular-nums`}>{num(x.rows)}</td>
                  <td className={`${td} tabular-nums`}>{x.columns}</td>
                  <td className={`${td} font-mono text-xs text-muted`}>{x.sha256.slice(0, 16)}…</td>
                </tr>
              ))}
            </Table>
          )}
        </Card>

        <Card>
          <CardHeader
            title="Validation"
            description={
              d.validation.run
                ? `Run #${d.validation.run.number} of "${d.validation.run.pipeline}": ${d.validation.run.status}, finished ${utc(d.validation.run.finishedAt)}.`
                : undefined
            }
          />
          <div className="px-5 pt-4 text-sm">
            {Object.keys(v.metrics).length ? (
              Object.entries(v.metrics).map(([k, x]) => (
                <Badge key={k} className="mr-1">
                  {k} = {figure(k, x)}
                </Badge>
              ))
            ) : (
              <span className="text-muted">No metrics recorded at registration.</span>
            )}
          </div>
          {!d.validation.run ? (
            <Missing>
              {d.validation.runs ? `${d.validation.runs} validation runs exist but none has finished.` : "No validation run exists for this version."}
            </Missing>
          ) : (
            <div className="pt-4">
              <Table head={["Check", "Status", "Value", "Threshold", "Gate"]} testId="report-checks">
                {d.validation.checks.map((c) => (
                  <tr key={c.name}>
                    <td className={`${td} font-mono text-xs`}>{c.name}</td>
                    <td className={td}>
                      <Badge tone={STATUS_TONE[c.status]}>{c.status}</Badge>
                    </td>
                    <td className={`${td} tabular-nums`}>{figure(c.name, c.value)}</td>
                    <td className={`${td} text-muted`}>{c.threshold ? thresholdWithUnits(c.name, c.threshold) : "none"}</td>
                    <td className={`${td} text-muted`}>{c.required ? "required" : "informational"}</td>
                  </tr>
                ))}
              </Table>
              {d.validation.steps
                .filter((s) => s.reason)
                .map((s) => (
                  <p key={s.key} className="px-5 pt-2 text-xs text-muted">
                    {s.key} ({s.type}) {s.status}: {s.reason}
                  </p>
                ))}
            </div>
          )}
        </Card>

        <Card>
          <CardHeader title="Reviews and e-signatures" />
          {d.reviews.length === 0 && <Missing>No review was opened for this version.</Missing>}
          {d.reviews.map((rv) => (
            <div key={rv.number} className="border-t border-border first:border-0">
              <p className="px-5 pt-3 text-sm font-medium">
                <Link className="text-accent hover:underline" href={`/w/${workspace.slug}/reviews/${rv.number}`}>
                  Review #{rv.number}
                </Link>{" "}
                → {rv.alias}: {rv.status}
                {rv.superseded ? ` · superseded ${utc(rv.superseded.at)} (v${rv.superseded.byVersion ?? "?"} held ${rv.alias})` : ""} · round {rv.round}
              </p>
              {rv.signatures.length === 0 ? (
                <Missing>No signatures.</Missing>
              ) : (
                <Table head={["Signer", "Decision", "Signed", "Meaning", `Holder of ${rv.alias} then`, "Record sha256"]}>
                  {rv.signatures.map((s) => (
                    <tr key={s.recordHash}>
                      <td className={td}>
                        {s.signerName} <span className="text-muted">({s.role})</span>
                      </td>
                      <td className={td}>
                        <Badge tone={s.decision === "approve" ? "passing" : "failing"}>{s.decision === "approve" ? "approved" : "rejected"}</Badge>
                        {s.currentRound ? "" : <span className="ml-1 text-xs text-muted">earlier round</span>}
                      </td>
                      <td className={`${td} tabular-nums`}>{utc(s.signedAt)}</td>
                      <td className={td}>“{s.meaning}”</td>
                      <td className={td}>{s.aliasHolderVersion ? `v${s.aliasHolderVersion}` : "none"}</td>
                      <td className={`${td} font-mono text-xs text-muted`}>{s.recordHash.slice(0, 16)}…</td>
                    </tr>
                  ))}
                </Table>
              )}
            </div>
          ))}
        </Card>

        <Card>
          <CardHeader
            title="Deployments and rollouts"
            description={d.emergencyRollbacks.length ? `${d.emergencyRollbacks.length} emergency rollback(s), each with its reason.` : undefined}
          />
          {d.rollouts.length === 0 && d.deployments.length === 0 ? (
            <Missing>This version was never deployed.</Missing>
          ) : (
            <Table head={["Deployment · revision", "Cause", "Serves", "Status", "Started · settled", "Reason"]} testId="report-rollouts">
              {d.rollouts.map((x) => (
                <tr key={x.id}>
                  <td className={td}>
                    {x.deployment} · {x.revision}
                  </td>
                  <td className={td}>{x.cause}</td>
                  <td className={td}>{serving(x)}</td>
                  <td className={td}>
                    <Badge tone={STATUS_TONE[x.status]}>{x.status}</Badge>
                  </td>
                  <td className={`${td} tabular-nums text-xs`}>
                    {utc(x.createdAt)} · {utc(x.settledAt)}
                  </td>
                  <td className={`${td} text-xs`}>
                    {[x.emergencyReason ? `Emergency rollback: ${x.emergencyReason}` : "", x.reason ?? ""].filter(Boolean).join(" · ") || "-"}
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </Card>

        <Card>
          <CardHeader
            title="Monitoring while it served"
            description={`Prediction logs kept ${d.retention.days} days${d.retention.floors.length ? `; required: ${d.retention.floors.map((f) => `${f.days} days (${f.framework})`).join(", ")}` : ""}.`}
          />
          {mon.traffic.length === 0 ? (
            <Missing>No predictions by this version are recorded.</Missing>
          ) : (
            <Table head={["Deployment · role", "Requests", "Errors", "Mean latency", "p99 latency"]}>
              {mon.traffic.map((t) => (
                <tr key={`${t.deployment}${t.role}`}>
                  <td className={td}>
                    {t.deployment} · {t.role}
                  </td>
                  <td className={`${td} tabular-nums`}>{num(t.requests)}</td>
                  <td className={`${td} tabular-nums`}>
                    {num(t.errors)} ({pct(t.errorRate)})
                  </td>
                  <td className={`${td} tabular-nums`}>{ms(t.meanLatencyMs)}</td>
                  <td className={`${td} tabular-nums`}>{ms(t.p99LatencyMs)}</td>
                </tr>
              ))}
            </Table>
          )}
          <div className="space-y-1 p-5 text-sm">
            <p>
              Drift:{" "}
              {mon.drift.windows
                ? `${num(mon.drift.windows)} windows; ${mon.drift.bySeverity.major} major, ${mon.drift.bySeverity.moderate} moderate, ${mon.drift.bySeverity.none} without drift.`
                : "not computed for this version."}
            </p>
            <p>
              Performance:{" "}
              {mon.performance.windows
                ? `${num(mon.performance.windows)} hourly windows, ${num(mon.performance.labeled)} labels; ${Object.entries(mon.performance.metrics)
                    .map(([k, x]) => `${k} ${k === "accuracy" ? pct(x) : num(x)}`)
                    .join(" · ")}.`
                : "no window with this version's answers."}
            </p>
            <p>
              Incidents: {mon.incidents.length ? mon.incidents.map((i) => `${utc(i.openedAt)} ${i.rule} (${i.status})`).join("; ") : "none while it served."}
            </p>
          </div>
        </Card>

        {d.frameworks.map((f) => (
          <Card key={f.id}>
            <CardHeader title={f.name} description={`${f.version}. Issued by ${f.issuingBody}. ${f.legalStatusLabel}: ${f.legalStatusNote}`} />
            <p className="px-5 pt-3 text-xs text-muted">
              {f.verified ? "Verified against the primary source." : "Not verified against the primary source."} {f.verification} Sources:{" "}
              {f.sources.map((s, i) => (
                <span key={s.url}>
                  {i ? " · " : ""}
                  <a className="text-accent hover:underline" href={s.url} rel="noreferrer noopener" target="_blank">
                    {s.title}
                  </a>{" "}
                  ({s.kind}, read {s.read})
                </span>
              ))}
            </p>
            <Table head={["Provisions", "Applies from", "Status"]}>
              {f.appliesFrom.map((a) => (
                <tr key={a.id}>
                  <td className={td}>
                    {a.provisions}
                    {a.note ? <span className="text-xs text-muted"> ({a.note})</span> : null}
                  </td>
                  <td className={`${td} tabular-nums`}>
                    {a.date}
                    {a.originalDate ? <span className="text-xs text-muted"> (was {a.originalDate})</span> : null}
                  </td>
                  <td className={td}>{a.status.replace(/_/g, " ")}</td>
                </tr>
              ))}
            </Table>
            <Table head={["Status", "Item", "Applies from", "Evidence"]} testId={`framework-${f.id}`}>
              {f.items.map((i) => (
                <tr key={i.id}>
                  <td className={`${td} w-28`}>
                    <Badge tone={STATUS_TONE[i.status]}>{i.status}</Badge>
                  </td>
                  <td className={`${td} font-medium`}>{i.title}</td>
                  <td className={`${td} tabular-nums`}>
                    {i.appliesFrom.date}
                    {i.appliesFrom.applies ? "" : <span className="text-xs text-muted"> (not yet)</span>}
                  </td>
                  <td className={`${td} text-xs text-muted`}>
                    {i.evidence.map((e) => (
                      <div key={e.key}>
                        {e.present ? "✓" : "✗"} {e.label}: {e.detail}
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </Table>
          </Card>
        ))}

        <Card>
          <CardHeader
            title="Audit events of this version"
            description={
              d.checkpoint ? `Covered by signed checkpoint #${d.checkpoint.seq} (key ${d.checkpoint.keyId}).` : "No signed checkpoint covers these events yet."
            }
          />
          <Table head={["Seq", "When", "Action", "Actor", "Hash"]}>
            {d.events.map((e) => (
              <tr key={e.seq} className="font-mono text-xs">
                <td className={td}>#{e.seq}</td>
                <td className={td}>{utc(e.occurredAt)}</td>
                <td className={td}>{e.action}</td>
                <td className={td}>{e.actorLabel}</td>
                <td className={`${td} text-muted`}>{e.hash.slice(0, 16)}…</td>
              </tr>
            ))}
          </Table>
        </Card>
        <Card>
          <CardHeader
            title="Manifest"
            description="The sha256 of this manifest is printed on every page of the PDF: it ties the report to the artifact, its data, card, checks, signatures, rollouts and the audit chain."
          />
          <p className="px-5 pt-4 font-mono text-xs" data-testid="manifest-hash">
            sha256 {d.manifestHash}
          </p>
          <pre className="overflow-x-auto p-5 font-mono text-xs text-muted">{JSON.stringify(d.manifest, null, 2)}</pre>
        </Card>
      </div>
    </>
  );
}
