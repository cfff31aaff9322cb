import "server-only";
import { PDFDocument, rgb, StandardFonts, type PDFFont, type PDFPage } from "pdf-lib";
import type { Report } from "./report.service";

// The standard PDF fonts cover WinAnsi only: keep the text to what they can draw.
const ascii = (s: string) => s.replace(/[→]/g, "->").replace(/[–—]/g, "-").replace(/[…]/g, "...").replace(/[^\x20-\x7E]/g, "?");

/** The report as a PDF (pdf-lib, no browser needed); every page carries the manifest hash. */
export async function reportPdf(r: Report): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.setTitle(`Model report ${r.version.name} v${r.version.version}`);
  doc.setProducer("Steward");
  doc.setSubject(`manifest sha256 ${r.manifestHash}`);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const mono = await doc.embedFont(StandardFonts.Courier);
  const W = 595;
  const H = 842;
  const M = 50;
  let page: PDFPage = doc.addPage([W, H]);
  let y = H - M;

  const footer = (p: PDFPage) =>
    p.drawText(ascii(`Steward model report - manifest sha256 ${r.manifestHash}`), { x: M, y: 25, size: 7, font: mono, color: rgb(0.4, 0.4, 0.4) });
  footer(page);
  const newPage = () => {
    page = doc.addPage([W, H]);
    footer(page);
    y = H - M;
  };
  const line = (text: string, opts: { size?: number; f?: PDFFont; indent?: number; gap?: number; color?: [number, number, number] } = {}) => {
    const size = opts.size ?? 10;
    const f = opts.f ?? font;
    const x = M + (opts.indent ?? 0);
    const words = ascii(text).split(" ");
    let current = "";
    const flush = () => {
      if (y < M + 20) newPage();
      page.drawText(current, { x, y, size, font: f, color: opts.color ? rgb(...opts.color) : rgb(0.1, 0.1, 0.12) });
      y -= size * 1.35;
      current = "";
    };
    for (const w of words) {
      const next = current ? `${current} ${w}` : w;
      if (f.widthOfTextAtSize(next, size) > W - x - M && current) {
        flush();
        current = w;
      } else current = next;
    }
    flush();
    y -= opts.gap ?? 0;
  };
  const heading = (t: string) => {
    y -= 8;
    line(t, { size: 13, f: bold, gap: 2 });
  };

  const v = r.version;
  line(`Model report: ${v.name} version ${v.version}`, { size: 18, f: bold, gap: 4 });
  line(`Generated ${r.generatedAt.toISOString()} by ${r.generatedBy}`, { size: 9, color: [0.4, 0.4, 0.45] });
  line(`Artifact sha256 ${v.sha256} (${v.sizeBytes} bytes)`, { size: 8, f: mono, gap: 6 });

  heading("Model card");
  line(v.description ?? "No description recorded.");
  if (r.card && r.card.revision > 1) {
    line(`Revision ${r.card.revision} (sha256 ${r.card.sha256})`, { size: 8, f: mono });
    for (const para of r.card.markdown.split(/\n+/).filter((x) => x.trim())) line(para.replace(/^#+\s*/, ""), { size: 9, f: /^#/.test(para) ? bold : undefined });
  } else line("Intended use and limitations: not written yet (the model card is edited in the version's review room).", { color: [0.6, 0.3, 0.1] });

  heading("Design: inputs and outputs");
  for (const i of v.signature.inputs) line(`input  ${i.name}: ${i.elemType}[${(i.shape ?? []).map((d) => d ?? "?").join(", ")}]`, { f: mono, size: 9 });
  for (const o of v.signature.outputs) line(`output ${o.name}: ${o.elemType}[${(o.shape ?? []).map((d) => d ?? "?").join(", ")}]`, { f: mono, size: 9 });
  line(`IR ${v.signature.irVersion}; opsets ${v.signature.opsets.map((o) => `${o.domain} ${o.version}`).join(", ")}; ${v.signature.nodeCount} nodes; onnxruntime: ${v.signature.runtime.loadable ? "loads" : "does not load"}`);
  if (v.gitCommit) line(`Git commit ${v.gitCommit}`);
  if (Object.keys(v.params).length) line(`Parameters: ${Object.entries(v.params).map(([k, x]) => `${k}=${String(x)}`).join(", ")}`);

  heading("Training and evaluation data");
  if (r.data.length === 0) line("No dataset versions are linked to this model version.", { color: [0.6, 0.3, 0.1] });
  for (const d of r.data) {
    line(`${d.role}: ${d.name}@${d.version} - ${d.rows} rows, ${d.columns} columns`, { f: bold, size: 10 });
    line(`sha256 ${d.sha256}`, { f: mono, size: 8 });
    for (const c of d.profile.columns) {
      const stats = c.logical === "numeric" ? `min ${c.min ?? "-"}, mean ${typeof c.mean === "number" ? c.mean.toPrecision(4) : "-"}, max ${c.max ?? "-"}` : `top ${(c.top ?? []).slice(0, 3).map((t) => `${t.value} (${t.count})`).join(", ")}`;
      line(`${c.name} (${c.type.toLowerCase()}): nulls ${c.nulls}; ${stats}`, { size: 9, indent: 12 });
    }
  }

  heading("Validation evidence");
  const metrics = Object.entries(v.metrics);
  line(metrics.length ? `Metrics: ${metrics.map(([k, x]) => `${k} = ${x}`).join(", ")}` : "No metrics recorded.");
  if (r.checks.length) for (const c of r.checks) line(`${c.status.toUpperCase()} ${c.name} = ${c.value ?? "-"} (${c.threshold ?? "no threshold"})${c.required ? "" : " [informational]"}`, { size: 8, f: mono });
  else line("No validation checks recorded for this version.", { color: [0.6, 0.3, 0.1] });

  heading("Review and e-signatures");
  if (!r.signatures.length) line("No signatures for this version.", { color: [0.6, 0.3, 0.1] });
  for (const x of r.signatures) {
    line(`Review #${x.review} -> ${x.alias}: ${x.decision === "approve" ? "APPROVED" : "REJECTED"} by ${x.signerName} (${x.role}, user ${x.signerId}) at ${x.signedAt.toISOString()}`, { size: 9, f: bold });
    line(`Meaning: "${x.meaning}"`, { size: 9, indent: 12 });
    line(`artifact ${x.artifactSha256} · evidence ${x.evidenceHash} · record ${x.recordHash}`, { size: 7, f: mono, indent: 12 });
  }
  line("Deployment history and monitoring: see the deployment's page (monitoring is not built yet).", { color: [0.6, 0.3, 0.1] });

  for (const f of r.frameworks) {
    heading(f.name);
    for (const i of f.items) {
      line(`[${i.status.toUpperCase()}] ${i.title}`, { f: bold, size: 9 });
      line(i.evidence.map((e) => `${e.present ? "+" : "-"} ${e.label}`).join("; "), { size: 8, indent: 12 });
    }
  }

  heading("Audit events of this version");
  for (const e of r.events) line(`#${e.seq} ${e.occurredAt.toISOString()} ${e.action} by ${e.actorLabel ?? "?"} - ${e.hash}`, { f: mono, size: 7 });
  line(
    r.checkpoint
      ? `Covered by signed checkpoint #${r.checkpoint.seq} (${r.checkpoint.signedAt.toISOString()}, key ${r.checkpoint.keyId}).`
      : "No signed checkpoint covers these events yet.",
    { size: 9, gap: 4 },
  );

  heading("Manifest");
  line(`sha256 of the canonical manifest: ${r.manifestHash}`, { f: mono, size: 8 });
  line(JSON.stringify(r.manifest), { f: mono, size: 6 });
  return doc.save();
}
