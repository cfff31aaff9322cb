import "server-only";
import fs from "node:fs/promises";
import path from "node:path";
import fontkit from "@pdf-lib/fontkit";
import { PDFDocument, rgb, type PDFFont, type PDFPage, type RGB } from "pdf-lib";
import { figure, flatten, mb, ms, num, pct, serving, thresholdWithUnits, utc } from "~/server/shared/report-format";
import { mappingSentence, type Report } from "./report.service";

/*
 * The report as a PDF, drawn with pdf-lib (no browser on the server). Text is set in
 * Geist (SIL OFL, shipped as TTF by the `geist` npm package), embedded and subset through
 * fontkit, so "·", "≥", "→", accents and the like print as themselves. A character the
 * font has no glyph for is written as [U+XXXX] rather than dropped or turned into "?".
 * Every page carries the manifest's sha256 and its page number.
 */

const FONT_DIR = path.join(process.cwd(), "node_modules", "geist", "dist", "fonts");
const FONT_FILES = {
  regular: path.join(FONT_DIR, "geist-sans", "Geist-Regular.ttf"),
  bold: path.join(FONT_DIR, "geist-sans", "Geist-SemiBold.ttf"),
  mono: path.join(FONT_DIR, "geist-mono", "GeistMono-Regular.ttf"),
};
let fontBytes: Promise<Record<keyof typeof FONT_FILES, Buffer>> | null = null;
const loadFonts = () =>
  (fontBytes ??= Promise.all(Object.entries(FONT_FILES).map(async ([k, f]) => [k, await fs.readFile(f)] as const)).then(
    (e) => Object.fromEntries(e) as Record<keyof typeof FONT_FILES, Buffer>,
  ));

const W = 595.28;
const H = 841.89;
const M = 48;
const INK = rgb(0.1, 0.1, 0.12);
const MUTED = rgb(0.42, 0.42, 0.47);
const WARN = rgb(0.62, 0.32, 0.05);
const GOOD = rgb(0.08, 0.45, 0.22);
const BAD = rgb(0.7, 0.12, 0.12);
const RULE = rgb(0.85, 0.85, 0.88);
const HEAD_BG = rgb(0.95, 0.95, 0.97);
const STATUS_COLOR: Record<string, RGB> = {
  complete: GOOD,
  partial: WARN,
  missing: BAD,
  pass: GOOD,
  warn: WARN,
  fail: BAD,
  live: GOOD,
  failed: BAD,
  pending: WARN,
};

type Col = { title: string; width: number; mono?: boolean; align?: "left" | "right"; size?: number };

/** Replaces what the font cannot draw: typographic stand-ins where they read the same, [U+XXXX] otherwise. */
function fitter(font: PDFFont) {
  const has = new Set(font.getCharacterSet());
  const stand: Record<string, string> = { "✓": "yes", "✔": "yes", "✗": "no", "✘": "no", "\t": "    " };
  return (s: string) => {
    let out = "";
    for (const ch of s.replace(/\r\n?/g, "\n")) {
      const cp = ch.codePointAt(0)!;
      if (ch === "\n") out += " ";
      else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) continue;
      else if (has.has(cp)) out += ch;
      else if (stand[ch] !== undefined) out += stand[ch];
      else out += `[U+${cp.toString(16).toUpperCase().padStart(4, "0")}]`;
    }
    return out;
  };
}

export async function reportPdf(r: Report): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkit);
  const bytes = await loadFonts();
  const font = await doc.embedFont(bytes.regular, { subset: true });
  const bold = await doc.embedFont(bytes.bold, { subset: true });
  const mono = await doc.embedFont(bytes.mono, { subset: true });
  const fits = new Map<PDFFont, (s: string) => string>([font, bold, mono].map((f) => [f, fitter(f)]));
  const fit = (f: PDFFont, s: string) => fits.get(f)!(s);
  const v = r.version;
  doc.setTitle(`Compliance report: ${v.name} v${v.version}`);
  doc.setAuthor("Steward");
  doc.setProducer("Steward (pdf-lib)");
  doc.setSubject(`manifest sha256 ${r.manifestHash}`);
  doc.setCreationDate(r.generatedAt);

  let page: PDFPage = doc.addPage([W, H]);
  let y = H - M;
  const bottom = M + 22;
  const newPage = () => {
    page = doc.addPage([W, H]);
    y = H - M;
  };
  const ensure = (h: number) => {
    if (y - h < bottom) newPage();
  };

  /** Splits text into lines that fit `width`, breaking inside a word only when the word alone is too wide. */
  const wrap = (text: string, f: PDFFont, size: number, width: number): string[] => {
    const lines: string[] = [];
    // U+2029 (paragraph separator) starts a new line inside a cell.
    for (const para of text.split("\u2029").map((p) => fit(f, p))) {
      let line = "";
      for (const word of para.split(/ +/)) {
        const next = line ? `${line} ${word}` : word;
        if (f.widthOfTextAtSize(next, size) <= width) {
          line = next;
          continue;
        }
        if (line) lines.push(line);
        let rest = word;
        while (f.widthOfTextAtSize(rest, size) > width) {
          let n = rest.length;
          while (n > 1 && f.widthOfTextAtSize(rest.slice(0, n), size) > width) n--;
          lines.push(rest.slice(0, n));
          rest = rest.slice(n);
        }
        line = rest;
      }
      lines.push(line);
    }
    return lines;
  };

  const text = (t: string, o: { f?: PDFFont; size?: number; color?: RGB; indent?: number; gap?: number } = {}) => {
    const f = o.f ?? font;
    const size = o.size ?? 9.5;
    const x = M + (o.indent ?? 0);
    for (const l of wrap(t, f, size, W - M - x)) {
      ensure(size * 1.4);
      page.drawText(l, { x, y: y - size, size, font: f, color: o.color ?? INK });
      y -= size * 1.4;
    }
    y -= o.gap ?? 2;
  };
  const heading = (t: string, level: 1 | 2 = 1) => {
    const size = level === 1 ? 13 : 10.5;
    const lines = wrap(t, bold, size, W - 2 * M);
    // A heading never ends a page: keep room for it and the first rows under it.
    ensure(lines.length * size * 1.5 + (level === 1 ? 110 : 80));
    y -= level === 1 ? 12 : 6;
    for (const l of lines) {
      page.drawText(l, { x: M, y: y - size, size, font: bold, color: INK });
      y -= size * 1.5;
    }
    if (level === 1) {
      page.drawLine({ start: { x: M, y: y + 2 }, end: { x: W - M, y: y + 2 }, thickness: 0.6, color: RULE });
      y -= 4;
    }
  };

  /** A table with wrapped cells; the header row repeats on each new page. Widths are shares of the text width. */
  const table = (cols: Col[], rows: { cells: string[]; color?: (RGB | undefined)[] }[], o: { size?: number } = {}) => {
    const size = o.size ?? 8;
    const total = cols.reduce((a, c) => a + c.width, 0);
    const widths = cols.map((c) => ((W - 2 * M) * c.width) / total);
    const pad = 3;
    const lineH = size * 1.32;
    const drawHeader = () => {
      const hl = cols.map((c, i) => wrap(c.title, bold, size, widths[i]! - 2 * pad));
      const h = Math.max(...hl.map((l) => l.length)) * lineH + 2 * pad;
      page.drawRectangle({ x: M, y: y - h, width: W - 2 * M, height: h, color: HEAD_BG });
      let x = M;
      cols.forEach((c, i) => {
        hl[i]!.forEach((l, k) => page.drawText(l, { x: x + pad, y: y - pad - size - k * lineH + 1, size, font: bold, color: MUTED }));
        x += widths[i]!;
      });
      y -= h;
    };
    ensure(lineH * 3 + 12);
    drawHeader();
    for (const row of rows) {
      const lines = row.cells.map((cell, i) => wrap(cell, cols[i]!.mono ? mono : font, cols[i]!.size ?? size, widths[i]! - 2 * pad));
      const h = Math.max(1, ...lines.map((l) => l.length)) * lineH + 2 * pad;
      if (y - h < bottom) {
        newPage();
        drawHeader();
      }
      let x = M;
      lines.forEach((cl, i) => {
        const c = cols[i]!;
        const f = c.mono ? mono : font;
        const s = c.size ?? size;
        cl.forEach((l, k) => {
          const lx = c.align === "right" ? x + widths[i]! - pad - f.widthOfTextAtSize(l, s) : x + pad;
          page.drawText(l, { x: lx, y: y - pad - s - k * lineH + 1, size: s, font: f, color: row.color?.[i] ?? INK });
        });
        x += widths[i]!;
      });
      y -= h;
      page.drawLine({ start: { x: M, y }, end: { x: W - M, y }, thickness: 0.4, color: RULE });
    }
    y -= 8;
  };
  const kv = (rows: [string, string][]) =>
    table(
      [
        { title: "Field", width: 1 },
        { title: "Value", width: 3.6 },
      ],
      rows.map(([k, val]) => ({ cells: [k, val], color: [MUTED] })),
    );
  const none = (t: string) => text(t, { color: WARN, gap: 6 });

  // --- Title and what it maps to -----------------------------------------------------------
  page.drawText(fit(bold, `Compliance report: ${v.name} version ${v.version}`), { x: M, y: y - 20, size: 20, font: bold, color: INK });
  y -= 30;
  text(`Generated ${utc(r.generatedAt)} (UTC) by ${r.generatedBy} · covers ${utc(r.period.from)} to ${utc(r.period.to)}`, { color: MUTED, size: 9 });
  text(`Manifest sha256 ${r.manifestHash}`, { f: mono, size: 8, color: MUTED, gap: 6 });
  heading("Frameworks this report maps to", 2);
  if (!r.frameworks.length) none("No framework is enabled for this workspace.");
  for (const f of r.frameworks) text(`• ${mappingSentence(f)}`, { size: 9 });
  table(
    [
      { title: "Framework", width: 3 },
      { title: "Complete", width: 1, align: "right" },
      { title: "Partial", width: 1, align: "right" },
      { title: "Missing", width: 1, align: "right" },
    ],
    r.frameworks.map((f) => ({
      cells: [f.shortName, ...(["complete", "partial", "missing"] as const).map((s) => String(f.items.filter((i) => i.status === s).length))],
      color: [undefined, GOOD, WARN, BAD],
    })),
  );

  // --- The model ---------------------------------------------------------------------------
  heading("Model version");
  kv([
    ["Description", v.description?.trim() || "No description recorded."],
    ["Artifact sha256", v.sha256],
    ["Size", mb(v.sizeBytes)],
    ["Registered", utc(v.createdAt)],
    ["Git commit", v.gitCommit ?? "-"],
    ["Aliases now", v.aliases.length ? v.aliases.join(", ") : "none"],
    [
      "Parameters",
      Object.keys(v.params).length
        ? Object.entries(v.params)
            .map(([k, x]) => `${k} = ${typeof x === "number" ? num(x) : String(x)}`)
            .join(" · ")
        : "-",
    ],
    [
      "ONNX",
      `IR ${v.signature.irVersion} · opsets ${v.signature.opsets.map((o) => `${o.domain || "ai.onnx"} ${o.version}`).join(", ")} · ${num(v.signature.nodeCount)} nodes · onnxruntime ${v.signature.runtime.loadable ? "loads it" : "cannot load it"}`,
    ],
  ]);
  table(
    [
      { title: "Tensor", width: 1 },
      { title: "Name", width: 2, mono: true },
      { title: "Type and shape", width: 3, mono: true },
    ],
    [...v.signature.inputs.map((i) => ["input", i] as const), ...v.signature.outputs.map((o) => ["output", o] as const)].map(([kind, t]) => ({
      cells: [kind, t.name, `${t.elemType}[${(t.shape ?? []).map((d) => d ?? "?").join(", ")}]`],
    })),
  );

  // --- Inventory ------------------------------------------------------------------------------
  heading("Model inventory");
  const inv = r.inventory;
  if (!inv || (!inv.owner && !inv.riskTier && !inv.intendedUse))
    none("The model has no inventory entry yet: no owner, intended use or risk assessment is recorded (Governance › Model inventory).");
  else {
    kv([
      ["Owner", inv.owner ? `${inv.owner.name} <${inv.owner.email}>${inv.owner.member ? "" : " (no longer a member)"}` : "none"],
      ["Intended use", inv.intendedUse?.trim() || "not recorded"],
      ["Risk tier", inv.riskTier ?? "not assessed"],
      ["Rationale", inv.riskRationale?.trim() || "-"],
      ["Framework findings", inv.frameworks.length ? inv.frameworks.map((f) => f.text).join(" · ") : "-"],
      [
        "Revalidation",
        inv.revalidationDays
          ? `every ${num(inv.revalidationDays)} days · last ${inv.lastRevalidatedAt ? utc(inv.lastRevalidatedAt) : "never"} · next due ${inv.dueAt ? utc(inv.dueAt) : "-"} · ${inv.status}`
          : "no cadence set",
      ],
    ]);
  }

  // --- Model card ----------------------------------------------------------------------------
  heading("Model card");
  if (r.card?.written) {
    text(`Revision ${r.card.revision}, saved ${utc(r.card.at)}${r.card.editedBy ? ` by ${r.card.editedBy}` : ""} · sha256 ${r.card.sha256}`, {
      size: 8,
      color: MUTED,
      gap: 4,
    });
    for (const para of r.card.markdown
      .split(/\n{2,}/)
      .map((p) => p.trim())
      .filter(Boolean)) {
      if (/^#+\s/.test(para)) text(para.replace(/^#+\s*/, ""), { f: bold, size: 10, gap: 1 });
      else text(para.replace(/\n/g, " "), { size: 9.5, gap: 4 });
    }
  } else
    none(
      r.card
        ? `Only the blank card template exists (revision ${r.card.revision}): intended use and limitations are not written.`
        : "No model card exists for this version.",
    );

  // --- Data ------------------------------------------------------------------------------------
  heading("Training and evaluation data");
  if (!r.data.length) none("No dataset versions are linked to this model version.");
  else
    table(
      [
        { title: "Role", width: 0.8 },
        { title: "Dataset", width: 1.6 },
        { title: "Rows", width: 0.8, align: "right" },
        { title: "Columns", width: 0.8, align: "right" },
        { title: "sha256", width: 4, mono: true, size: 7 },
      ],
      r.data.map((d) => ({ cells: [d.role, `${d.name}@${d.version}`, num(d.rows), num(d.columns), d.sha256] })),
    );
  for (const d of r.data) {
    heading(`Profile of ${d.name}@${d.version} (${d.role})`, 2);
    table(
      [
        { title: "Column", width: 1.4 },
        { title: "Type", width: 0.9 },
        { title: "Nulls", width: 0.7, align: "right" },
        { title: "Distribution", width: 4 },
      ],
      d.profile.columns.map((c) => ({
        cells: [
          c.name,
          c.type.toLowerCase(),
          num(c.nulls),
          c.logical === "numeric"
            ? `min ${num(c.min as number | null)} · mean ${num(c.mean as number | null)} · max ${num(c.max as number | null)}`
            : `top: ${
                (c.top ?? [])
                  .slice(0, 4)
                  .map((t) => `${t.value} (${num(t.count)})`)
                  .join(", ") || "-"
              }`,
        ],
      })),
    );
  }

  // --- Validation ------------------------------------------------------------------------------
  heading("Validation");
  const metrics = Object.entries(v.metrics);
  if (metrics.length)
    table(
      [
        { title: "Metric recorded at registration", width: 3 },
        { title: "Value", width: 1, align: "right" },
      ],
      metrics.map(([k, x]) => ({ cells: [k, figure(k, x)] })),
    );
  else none("No metrics were recorded at registration.");
  const val = r.validation;
  if (!val.run) none(val.runs ? `${val.runs} validation runs exist but none has finished.` : "No validation run exists for this version.");
  else {
    text(
      `Run #${val.run.number} of pipeline "${val.run.pipeline}": ${val.run.status}, finished ${utc(val.run.finishedAt)}${val.runs > 1 ? ` (the latest finished of ${val.runs} runs; earlier runs are in the pipeline history)` : ""}.`,
      { gap: 4 },
    );
    heading("Steps", 2);
    table(
      [
        { title: "Step", width: 1.2 },
        { title: "Type", width: 1.5 },
        { title: "Status", width: 0.8 },
        { title: "Note", width: 3.7 },
      ],
      val.steps.map((s) => ({
        cells: [s.key, s.type, s.status, s.reason ?? ""],
        color: [
          undefined,
          undefined,
          STATUS_COLOR[s.status === "passed" ? "pass" : s.status === "warned" ? "warn" : s.status === "failed" ? "fail" : ""],
          MUTED,
        ],
      })),
    );
    heading("Validation checks", 2);
    if (!val.checks.length) none("The run recorded no checks.");
    else
      table(
        [
          { title: "Check", width: 2.3, mono: true, size: 7.5 },
          { title: "Status", width: 0.7 },
          { title: "Value", width: 1.1, align: "right" },
          { title: "Threshold", width: 2.2 },
          { title: "Gate", width: 0.9 },
        ],
        val.checks.map((c) => ({
          cells: [
            c.name,
            c.status.toUpperCase(),
            figure(c.name, c.value),
            c.threshold ? thresholdWithUnits(c.name, c.threshold) : "none",
            c.required ? "required" : "informational",
          ],
          color: [undefined, STATUS_COLOR[c.status]],
        })),
      );
    if (val.importance.features.length) {
      heading(`Feature importance (fall in ${val.importance.metric ?? "the metric"} when a feature is shuffled)`, 2);
      table(
        [
          { title: "Feature", width: 2 },
          { title: "Importance", width: 1, align: "right" },
          { title: "± sd", width: 1, align: "right" },
        ],
        val.importance.features.map((f) => ({ cells: [f.feature, num(f.importance), num(f.std)] })),
      );
    }
  }

  // --- Reviews ---------------------------------------------------------------------------------
  heading("Reviews and e-signatures");
  if (!r.reviews.length) none("No review was opened for this version.");
  for (const rv of r.reviews) {
    heading(
      `Review #${rv.number} → ${rv.alias}: ${rv.status}${rv.superseded ? ` · superseded ${utc(rv.superseded.at)} (v${rv.superseded.byVersion ?? "?"} held ${rv.alias} then)` : ""} · round ${rv.round}`,
      2,
    );
    if (!rv.signatures.length) {
      none("No signatures.");
      continue;
    }
    table(
      [
        { title: "Signer", width: 1.8 },
        { title: "Decision", width: 0.9 },
        { title: "Signed (UTC)", width: 1.4 },
        { title: "Meaning", width: 2.2 },
        { title: `Holder of ${rv.alias} then`, width: 1.1 },
      ],
      rv.signatures.map((s) => ({
        cells: [
          `${s.signerName} (${s.role}) ${s.signerEmail}`,
          `${s.decision === "approve" ? "APPROVED" : "REJECTED"}${s.currentRound ? "" : ` (round ${s.round}, no longer counts)`}`,
          `${utc(s.signedAt)} · ${s.method}`,
          `"${s.meaning}"${s.reason ? ` · reason: ${s.reason}` : ""}`,
          s.aliasHolderVersion ? `v${s.aliasHolderVersion}` : s.aliasHolderVersionId ? "a version not in this report" : "none (no version held it)",
        ],
        color: [undefined, s.decision === "approve" ? GOOD : BAD],
      })),
    );
    table(
      [
        { title: "Signer", width: 1 },
        { title: "Artifact · evidence · record sha256", width: 4.2, mono: true, size: 6.5 },
      ],
      rv.signatures.map((s) => ({ cells: [s.signerName, `${s.artifactSha256} · ${s.evidenceHash} · ${s.recordHash}`] })),
    );
  }

  // --- Deployments and rollouts ------------------------------------------------------------------
  heading("Deployments and rollouts");
  if (!r.deployments.length && !r.rollouts.length) none("This version was never deployed.");
  if (r.deployments.length)
    table(
      [
        { title: "Deployment", width: 1.3 },
        { title: "Environment", width: 1 },
        { title: "Binding", width: 1.5 },
        { title: "Serving now", width: 2.2 },
        { title: "Status", width: 0.8 },
      ],
      r.deployments.map((d) => ({
        cells: [
          d.name,
          d.environment,
          d.following ? `follows ${d.alias}` : `pinned (bound to ${d.alias})`,
          `primary ${serving(d, " · ")} (revision ${d.revision})`,
          d.status,
        ],
      })),
    );
  if (r.rollouts.length) {
    heading("Rollouts involving this version", 2);
    table(
      [
        { title: "Deployment · rev.", width: 1.3 },
        { title: "Cause", width: 1.1 },
        { title: "Serves", width: 1.6 },
        { title: "Status", width: 1 },
        { title: "Started · settled (UTC)", width: 1.5 },
        { title: "Reason", width: 1.6 },
      ],
      r.rollouts.map((x) => ({
        cells: [
          `${x.deployment} · ${x.revision}`,
          x.cause,
          `${serving(x)}${x.fromPrimary ? ` (was v${x.fromPrimary})` : ""}`,
          x.status,
          `${utc(x.createdAt)} · ${utc(x.settledAt)}`,
          [
            x.emergencyReason ? `Emergency rollback: ${x.emergencyReason}` : "",
            x.reason ? `${x.reason}${x.failedReplica ? ` (replica ${x.failedReplica})` : ""}` : "",
          ]
            .filter(Boolean)
            .join(" · ") || "-",
        ],
        color: [undefined, undefined, undefined, STATUS_COLOR[x.status]],
      })),
    );
  }
  if (r.emergencyRollbacks.length)
    text(`${plural(r.emergencyRollbacks.length, "emergency rollback")} in the period, each with the reason given above.`, { color: WARN });
  const notable = r.deploymentEvents.filter((e) =>
    ["rolled_back", "canary_rolled_back", "rollout_failed", "rollout_reverted", "follow_changed", "stopped", "started"].includes(e.kind),
  );
  if (notable.length) {
    heading("Rollbacks, failures and other notable deployment events", 2);
    table(
      [
        { title: "When (UTC)", width: 1.3 },
        { title: "Deployment", width: 1 },
        { title: "Event", width: 1.1 },
        { title: "What happened", width: 3.6 },
      ],
      notable.map((e) => ({ cells: [utc(e.at), e.deployment, e.kind, `${e.summary}${e.actorLabel ? ` (${e.actorLabel})` : ""}`] })),
    );
  }

  // --- Monitoring ----------------------------------------------------------------------------------
  heading("Monitoring while it served");
  const mon = r.monitoring;
  if (!mon.traffic.length) none("No predictions by this version are in the rollups for the period.");
  else
    table(
      [
        { title: "Deployment · role", width: 1.5 },
        { title: "Requests", width: 0.9, align: "right" },
        { title: "Errors", width: 0.9, align: "right" },
        { title: "Mean latency", width: 0.9, align: "right" },
        { title: "p99 latency", width: 0.9, align: "right" },
        { title: "From · to (UTC)", width: 2.1 },
      ],
      mon.traffic.map((t) => ({
        cells: [
          `${t.deployment} · ${t.role}`,
          num(t.requests),
          `${num(t.errors)} (${pct(t.errorRate)})`,
          ms(t.meanLatencyMs),
          ms(t.p99LatencyMs),
          `${utc(t.from)} · ${utc(t.to)}`,
        ],
      })),
    );
  heading("Drift", 2);
  if (!mon.drift.windows) none("No drift was computed for this version in the period.");
  else {
    text(
      `${plural(mon.drift.windows, "window")} compared with the reference: ${mon.drift.bySeverity.none} without drift, ${mon.drift.bySeverity.moderate} moderate, ${mon.drift.bySeverity.major} major, ${mon.drift.bySeverity.unknown} not enough data.`,
    );
    const l = mon.drift.latest!;
    text(
      `Latest window ${utc(l.windowStart)} to ${utc(l.windowEnd)} (${num(l.sampled)} predictions sampled): ${l.maxSeverity === "none" ? "no feature drifted" : l.drifted.map((f) => `${f.feature} ${f.severity} (PSI ${num(f.psi)})`).join(", ")}.`,
      { gap: 6 },
    );
  }
  heading("Performance against ground truth", 2);
  if (!mon.performance.windows) none("No performance window was computed for the hours this version answered.");
  else {
    text(
      `${plural(mon.performance.windows, "hourly window")} · ${num(mon.performance.predictions)} predictions, ${num(mon.performance.labeled)} labelled (${pct(mon.performance.predictions ? mon.performance.labeled / mon.performance.predictions : null)}).`,
    );
    const m = mon.performance.metrics;
    if (Object.keys(m).length)
      text(
        `Weighted by labels: ${Object.entries(m)
          .map(([k, x]) => `${k} ${k === "accuracy" ? pct(x) : num(x)}`)
          .join(" · ")}.`,
      );
    const w = mon.performance.worst;
    if (w && typeof w.metrics.accuracy === "number")
      text(`Lowest hourly accuracy ${pct(w.metrics.accuracy)} in the hour from ${utc(w.windowStart)} (${num(w.labeled)} labels).`, { gap: 6 });
  }
  heading("Incidents", 2);
  if (!mon.incidents.length) text("No alert fired on its deployments while it served.", { gap: 6 });
  else
    table(
      [
        { title: "Opened (UTC)", width: 1.3 },
        { title: "Rule · severity", width: 1.5 },
        { title: "Status", width: 0.9 },
        { title: "Message", width: 3.3 },
      ],
      mon.incidents.map((i) => ({
        cells: [utc(i.openedAt), `${i.rule} · ${i.severity}`, `${i.status}${i.resolvedAt ? ` ${utc(i.resolvedAt)}` : ""}`, i.message],
      })),
    );
  heading("Log retention", 2);
  text(
    `Prediction logs are kept ${r.retention.days} days${r.retention.floors.length ? `; the frameworks this report maps to require at least ${r.retention.floors.map((f) => `${f.days} days (${f.framework})`).join(", ")}` : ""}. Audit events are never removed.`,
    { gap: 6 },
  );

  // --- Framework checklists -------------------------------------------------------------------------
  for (const f of r.frameworks) {
    heading(f.name);
    kv([
      ["Version", f.version],
      ["Issued by", f.issuingBody],
      ["Legal status", `${f.legalStatusLabel}. ${f.legalStatusNote}`],
      ["Scope", f.scope],
      ["Verification", `${f.verified ? "Verified against the primary source." : "Not verified against the primary source."} ${f.verification}`],
    ]);
    table(
      [
        { title: "Source", width: 2.6 },
        { title: "Kind · read", width: 0.9 },
        { title: "Address", width: 2.6, mono: true, size: 6.5 },
      ],
      f.sources.map((src) => ({
        cells: [
          `${src.title}${src.note ? ` (${src.note})` : ""}`,
          `${src.kind} · ${src.read}`,
          `${src.url}${src.readVia ? `\u2029read via ${src.readVia}` : ""}`,
        ],
      })),
    );
    heading("Dates of application", 2);
    table(
      [
        { title: "Provisions", width: 3.4 },
        { title: "Applies from", width: 1 },
        { title: "Status", width: 1.3 },
      ],
      f.appliesFrom.map((a) => ({
        cells: [
          `${a.provisions}${a.note ? ` (${a.note})` : ""}`,
          `${a.date}${a.originalDate ? ` (was ${a.originalDate})` : ""}${a.until ? ` until ${a.until}` : ""}`,
          a.status.replace(/_/g, " "),
        ],
      })),
    );
    heading("Checklist", 2);
    table(
      [
        { title: "Status", width: 0.8 },
        { title: "Item", width: 2 },
        { title: "Applies from", width: 0.9 },
        { title: "Evidence", width: 3.3 },
      ],
      f.items.map((i) => ({
        cells: [
          i.status.toUpperCase(),
          i.title,
          `${i.appliesFrom.date}${i.appliesFrom.applies ? "" : " (not yet)"}`,
          i.evidence.map((e) => `${e.present ? "present" : "MISSING"}: ${e.label}. ${e.detail}`).join("\u2029"),
        ],
        color: [STATUS_COLOR[i.status]],
      })),
    );
  }

  // --- Audit trail and manifest ----------------------------------------------------------------------
  heading("Audit events of this version");
  table(
    [
      { title: "Seq", width: 0.5, align: "right" },
      { title: "When (UTC)", width: 1.55 },
      { title: "Action", width: 1.75 },
      { title: "Actor", width: 1.6 },
      { title: "Event hash", width: 2.6, mono: true, size: 6.5 },
    ],
    r.events.map((e) => ({ cells: [String(e.seq), utc(e.occurredAt), e.action, e.actorLabel ?? "-", e.hash] })),
  );
  text(
    r.checkpoint
      ? `Covered by signed checkpoint #${r.checkpoint.seq} (${utc(r.checkpoint.signedAt)}, key ${r.checkpoint.keyId}).`
      : "No signed checkpoint covers these events yet.",
    { gap: 6 },
  );

  heading("Manifest");
  text(
    "The manifest binds this report to the artifact, its data, its card, checks, signatures, rollouts and the audit chain. Its sha256, over the canonical JSON (RFC 8785) of the fields below, is printed at the foot of every page.",
    { size: 9, color: MUTED },
  );
  text(`sha256 ${r.manifestHash}`, { f: mono, size: 8.5, gap: 6 });
  table(
    [
      { title: "Field", width: 1.6, mono: true, size: 7 },
      { title: "Value", width: 4, mono: true, size: 7 },
    ],
    flatten(r.manifest).map(([k, x]) => ({ cells: [k, x] })),
  );

  // Footers last, when the page count is known.
  const pages = doc.getPages();
  pages.forEach((p, i) => {
    const foot = fit(mono, `${v.name} v${v.version} · manifest sha256 ${r.manifestHash} · page ${i + 1} of ${pages.length}`);
    p.drawLine({ start: { x: M, y: M - 2 }, end: { x: W - M, y: M - 2 }, thickness: 0.4, color: RULE });
    p.drawText(foot, { x: M, y: M - 14, size: 6.5, font: mono, color: MUTED });
  });
  return doc.save();
}

const plural = (n: number, word: string) => `${num(n)} ${word}${n === 1 ? "" : "s"}`;
