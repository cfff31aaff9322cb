import { createHash } from "node:crypto";
import fs from "node:fs";
import { canonicalEncoding, GENESIS_HASH, type ChainedFields } from "./chain";
import {
  checkCheckpoints,
  checkCheckpointSignature,
  checkEventSignatures,
  checkPublished,
  parseExport,
  verifyExport,
  type ExportedCheckpoint,
  type Problem,
  type PublishedCheckpoint,
  type TrustedKeys,
  type VerifyReport,
} from "./verify";

/*
 * The offline verifier's fast path (`steward audit verify`), for exports of format 2.
 *
 * A format 2 event line carries, after a short prefix, the exact bytes its hash was computed
 * over (the event's canonical encoding):
 *
 *   {"type":"event","seq":7,"hash":"<64 hex>","signature":"<base64>"|null,"keyId":"<id>"|null,"chained":{…canonical…}}
 *
 * so verifying an event is one sha256 over a slice of the file, and reading its links is two
 * searches in that slice; no JSON is decoded per event. This is as sound as re-encoding: the
 * hash was computed by the server over these bytes, so bytes that hash to it are the server's
 * bytes (anything else is a sha256 preimage), and the server wrote them canonically, so the
 * seq and prev_hash read here are the ones every JSON reader sees. The top-level "seq" and
 * "prevHash" are the last occurrences of their keys: only string, number and null members
 * follow them in the canonical order (requestId, seq, targetId, targetType, v, workspaceId),
 * and inside a JSON string a quote is always escaped.
 *
 * The report is the one `verifyExport` gives for the same export (same checks, same first
 * problem, same words); a test holds the two to it on real and tampered exports. Format 1
 * exports go through `verifyExport`.
 */

const enc = new TextEncoder();
const EVENT_PREFIX = enc.encode('{"type":"event","seq":');
const HASH_KEY = enc.encode(',"hash":"');
const SIG_KEY = enc.encode(',"signature":');
const KEY_ID_KEY = enc.encode(',"keyId":');
const CHAINED_KEY = enc.encode(',"chained":');
const SEQ_IN_BODY = Buffer.from(',"seq":');
const PREV_IN_BODY = Buffer.from(',"prevHash":"');
const NEWLINE = 10;

/** An event line of format 2, as the export writes it. */
export function exportEventLine(e: ChainedFields & { hash: string; signature?: string | null; keyId?: string | null }): string {
  return `{"type":"event","seq":${e.seq},"hash":${JSON.stringify(e.hash)},"signature":${JSON.stringify(e.signature ?? null)},"keyId":${JSON.stringify(e.keyId ?? null)},"chained":${canonicalEncoding(e)}}`;
}

const startsWithAt = (buf: Buffer, at: number, what: Uint8Array) => {
  if (at + what.length > buf.length) return false;
  for (let i = 0; i < what.length; i++) if (buf[at + i] !== what[i]) return false;
  return true;
};

/** A non-negative integer written at `at` (digits only); its end and value, or null. */
function readInt(buf: Buffer, at: number, end: number): { value: number; end: number } | null {
  let v = 0;
  let i = at;
  while (i < end && buf[i]! >= 48 && buf[i]! <= 57) v = v * 10 + (buf[i++]! - 48);
  return i === at || i - at > 15 ? null : { value: v, end: i };
}

/** A JSON string without escapes (hex, base64, ids) or null at `at`: its value and end, or undefined when it is neither. */
function readPlainStringOrNull(buf: Buffer, at: number, end: number): { value: string | null; end: number } | undefined {
  if (buf[at] === 110 /* n */) return startsWithAt(buf, at, enc.encode("null")) ? { value: null, end: at + 4 } : undefined;
  if (buf[at] !== 34 /* " */) return undefined;
  const close = buf.indexOf(34, at + 1);
  if (close < 0 || close >= end) return undefined;
  // ASCII only (hex, base64, key ids): anything else is read by the decoding verifier.
  for (let i = at + 1; i < close; i++) if (buf[i]! > 0x7e || buf[i] === 92 /* \\ */) return undefined;
  return { value: buf.toString("latin1", at + 1, close), end: close + 1 };
}

type Line = { seq: number; hash: string; signature: string | null; keyId: string | null; bodyStart: number; bodyEnd: number };

/** Reads the prefix of a format 2 event line [start, end); null when the line is not one. */
function readEventLine(buf: Buffer, start: number, end: number): Line | null {
  if (!startsWithAt(buf, start, EVENT_PREFIX)) return null;
  const seq = readInt(buf, start + EVENT_PREFIX.length, end);
  if (!seq || !startsWithAt(buf, seq.end, HASH_KEY)) return null;
  const hashAt = seq.end + HASH_KEY.length;
  if (buf[hashAt + 64] !== 34) return null;
  const hash = buf.toString("latin1", hashAt, hashAt + 64);
  if (!startsWithAt(buf, hashAt + 65, SIG_KEY)) return null;
  const sig = readPlainStringOrNull(buf, hashAt + 65 + SIG_KEY.length, end);
  if (!sig || !startsWithAt(buf, sig.end, KEY_ID_KEY)) return null;
  const keyId = readPlainStringOrNull(buf, sig.end + KEY_ID_KEY.length, end);
  if (!keyId || !startsWithAt(buf, keyId.end, CHAINED_KEY)) return null;
  let last = end;
  while (last > start && (buf[last - 1] === 13 || buf[last - 1] === 32)) last--;
  if (buf[last - 1] !== 125 /* } */) return null;
  return { seq: seq.value, hash, signature: sig.value, keyId: keyId.value, bodyStart: keyId.end + CHAINED_KEY.length, bodyEnd: last - 1 };
}

/** The canonical encoding of the event line starting at `start`. */
function firstEventBody(buf: Buffer, start: number): string {
  let nl = buf.indexOf(NEWLINE, start);
  if (nl < 0) nl = buf.length;
  const line = readEventLine(buf, start, nl)!;
  return buf.toString("utf8", line.bodyStart, line.bodyEnd);
}

/** The top-level seq and prev_hash of a canonical encoding (see above). */
function linksOf(buf: Buffer, bodyStart: number, bodyEnd: number): { seq: number; prevHash: string } | null {
  const body = buf.subarray(bodyStart, bodyEnd);
  const s = body.lastIndexOf(SEQ_IN_BODY);
  const p = body.lastIndexOf(PREV_IN_BODY);
  if (s < 0 || p < 0) return null;
  const seq = readInt(body, s + SEQ_IN_BODY.length, body.length);
  const at = p + PREV_IN_BODY.length;
  if (!seq || body[at + 64] !== 34) return null;
  return { seq: seq.value, prevHash: body.toString("latin1", at, at + 64) };
}

/** Lines of `buf` as [start, end) pairs, without trailing blanks; empty lines skipped. */
function* lineRanges(buf: Buffer, from = 0): Generator<[number, number]> {
  let pos = from;
  while (pos < buf.length) {
    let nl = buf.indexOf(NEWLINE, pos);
    if (nl < 0) nl = buf.length;
    let e = nl;
    while (e > pos && (buf[e - 1] === 13 || buf[e - 1] === 32)) e--;
    if (e > pos) yield [pos, e];
    pos = nl + 1;
  }
}

export type ExportVerification = { report: VerifyReport; format: 1 | 2 };

/**
 * The export's header line and the chain it is of (the header's workspace, else the first
 * event's: format 1 headers may not say), without reading the rest.
 */
export function readExportHeader(buf: Buffer): { header: Record<string, unknown>; workspaceId: string | null; end: number } {
  const lines = lineRanges(buf);
  const first = lines.next();
  if (first.done) throw new Error("The export is empty; it is not a Steward audit export.");
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.toString("utf8", first.value[0], first.value[1])) as Record<string, unknown>;
  } catch {
    throw new Error("Line 1 of the export is not JSON.");
  }
  if (header.type !== "header") throw new Error("The export has no header line; it is not a Steward audit export.");
  let workspaceId = header.workspaceId as string | null | undefined;
  if (workspaceId === undefined) {
    const second = lines.next();
    try {
      const e = second.done ? null : (JSON.parse(buf.toString("utf8", second.value[0], second.value[1])) as Record<string, unknown>);
      workspaceId = ((e?.chained as Record<string, unknown> | undefined)?.workspaceId ?? e?.workspaceId ?? null) as string | null;
    } catch {
      workspaceId = null;
    }
  }
  return { header, workspaceId, end: first.value[1] };
}

/** The header of the export in `file`, reading only its first lines (an export may be larger than memory). */
export function readExportHeaderFile(file: string): ReturnType<typeof readExportHeader> {
  const fd = fs.openSync(file, "r");
  try {
    let size = 1 << 16;
    for (;;) {
      const head = Buffer.alloc(size);
      const n = fs.readSync(fd, head, 0, size, 0);
      const part = head.subarray(0, n);
      // The header and the first event line (format 1 headers may not name the chain) are whole, or the file ends here.
      const first = part.indexOf(NEWLINE);
      const second = first < 0 ? -1 : part.indexOf(NEWLINE, first + 1);
      if (second >= 0 || n < size || size >= 1 << 26) return readExportHeader(part.subarray(0, second >= 0 ? second : n));
      size *= 4;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Verifies an NDJSON export held in `buf`: format 2 on the fast path, format 1 (and anything
 * the fast path cannot read as format 2) through `verifyExport`, with the same report.
 */
export function verifyExportBytes(buf: Buffer, keys: TrustedKeys, published?: PublishedCheckpoint[]): ExportVerification {
  const { header, end } = readExportHeader(buf);
  const fast = header.version === 2 ? verifyFormat2(buf, end, keys, published) : null;
  if (fast) return { report: fast, format: 2 };
  const parsed = parseExport(buf.toString("utf8"));
  return { report: verifyExport(parsed.events, parsed.checkpoints, keys, published), format: 1 };
}

/** What the event lines are checked against: read from the header and the checkpoints, before any event. */
export type Format2Plan = {
  checkpoints: ExportedCheckpoint[];
  eventsStart: number;
  eventsEnd: number;
  /** The export starts at #1: the whole chain links from the genesis (else links are checked where consecutive). */
  fromGenesis: boolean;
  /** Seqs whose hashes the checkpoint checks need. */
  wanted: number[];
  /** Events after this seq keep their signatures for checking (no checkpoint vouches for them). */
  keepFrom: number;
  lastCheckpoint: number;
  requireFrom: number;
};

export function planFormat2(buf: Buffer, afterHeader: number, keys: TrustedKeys, published: PublishedCheckpoint[] | undefined): Format2Plan | null {
  // Events first, then the checkpoints (JSON, read here: the events' checks depend on them).
  // The events are the lines from the first event line to the last one; a line among them that
  // is not an event makes the block scan give up (and the decoding verifier take over).
  const first = buf.indexOf(EVENT_PREFIX, afterHeader);
  const last = buf.lastIndexOf(EVENT_PREFIX);
  const atLineStart = (i: number) => i >= 0 && buf[i - 1] === NEWLINE;
  let eventsStart = afterHeader;
  let eventsEnd = afterHeader;
  let firstSeq: number | null = null;
  if (first >= 0) {
    if (!atLineStart(first) || !atLineStart(last)) return null;
    eventsStart = first;
    const nl = buf.indexOf(NEWLINE, last);
    eventsEnd = nl < 0 ? buf.length : nl;
    firstSeq = readInt(buf, first + EVENT_PREFIX.length, eventsEnd)?.value ?? null;
  }
  const checkpoints: ExportedCheckpoint[] = [];
  // Nothing but blank lines between the header and the events.
  for (let i = afterHeader; i < eventsStart; i++) if (buf[i] !== NEWLINE && buf[i] !== 13 && buf[i] !== 32) return null;
  for (const [s, e] of lineRanges(buf, first >= 0 ? eventsEnd : afterHeader)) {
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(buf.toString("utf8", s, e)) as Record<string, unknown>;
    } catch {
      return null;
    }
    if (obj.type !== "checkpoint") return null;
    checkpoints.push(obj as unknown as ExportedCheckpoint);
  }
  const v2 = checkpoints.filter((c) => checkCheckpointSignature(c, keys).version === 2).map((c) => c.seq);
  const lastCheckpoint = Math.max(0, ...checkpoints.map((c) => c.seq));
  const fromGenesis = firstSeq === 1;
  return {
    checkpoints,
    eventsStart,
    eventsEnd,
    fromGenesis,
    wanted: [...new Set([...checkpoints.map((c) => c.seq), ...(published ?? []).map((p) => p.seq)])],
    // Without trusted keys no signature is checked (links only), so none is kept.
    keepFrom: keys === null ? Number.MAX_SAFE_INTEGER : fromGenesis ? lastCheckpoint : 0,
    lastCheckpoint,
    requireFrom: v2.length ? Math.min(...v2) + 1 : Number.MAX_SAFE_INTEGER,
  };
}

type Kept = { seq: number; hash: string; signature: string | null; keyId: string | null };

/** What one block of event lines says; blocks are joined in file order by `joinBlocks`. */
export type BlockResult = {
  count: number;
  first: { seq: number; prevHash: string; hash: string } | null;
  last: { seq: number; hash: string } | null;
  /** The first seq that does not increase, inside the block. */
  order: Problem | null;
  /** The first broken link or hash inside the block (its first line: the hash only). */
  chain: Problem | null;
  hashes: [number, string][];
  kept: Kept[];
};

/** Checks the event lines in [start, end): each one's hash over its own bytes, and the links between its lines. Null: not format 2. */
export function scanBlock(buf: Buffer, start: number, end: number, plan: Pick<Format2Plan, "fromGenesis" | "wanted" | "keepFrom">): BlockResult | null {
  const wanted = new Set(plan.wanted);
  const out: BlockResult = { count: 0, first: null, last: null, order: null, chain: null, hashes: [], kept: [] };
  let prev: { seq: number; hash: string } | null = null;
  for (const [s, e] of lineRanges(buf, start)) {
    if (s >= end) break;
    const line = readEventLine(buf, s, e);
    if (!line) return null;
    const links = linksOf(buf, line.bodyStart, line.bodyEnd);
    if (!links || links.seq !== line.seq) return null;
    if (!prev) out.first = { seq: line.seq, prevHash: links.prevHash, hash: line.hash };
    else if (!out.order && line.seq <= prev.seq)
      out.order = { seq: line.seq, reason: `event #${line.seq} appears after #${prev.seq}: the export is out of order or has a duplicate` };
    out.count++;
    if (wanted.has(line.seq)) out.hashes.push([line.seq, line.hash]);
    if (!out.chain && !out.order) {
      // As findChainBreak: from #1 the whole sequence links from the genesis; a filtered export links where consecutive.
      if (prev) out.chain = linkProblem(plan.fromGenesis, prev, line.seq, links.prevHash);
      if (!out.chain && createHash("sha256").update(buf.subarray(line.bodyStart, line.bodyEnd)).digest("hex") !== line.hash)
        out.chain = { seq: line.seq, reason: `event #${line.seq} was altered (its content no longer matches its hash)` };
    }
    if (line.seq > plan.keepFrom) out.kept.push({ seq: line.seq, hash: line.hash, signature: line.signature, keyId: line.keyId });
    prev = { seq: line.seq, hash: line.hash };
  }
  out.last = prev;
  return out;
}

/** The link from `prev` to an event (seq, prevHash), as findChainBreak words it. */
function linkProblem(fromGenesis: boolean, prev: { seq: number; hash: string }, seq: number, prevHash: string): Problem | null {
  if (fromGenesis) {
    const expected = prev.seq + 1;
    if (seq !== expected)
      return seq > expected
        ? { seq: expected, reason: `event #${expected} is missing (next event found is #${seq})` }
        : { seq, reason: `event #${seq} appears out of order or twice` };
    if (prevHash !== prev.hash) return { seq, reason: `event #${seq} does not link to the event before it (prev_hash mismatch)` };
    return null;
  }
  if (prev.seq === seq - 1 && prevHash !== prev.hash) return { seq, reason: `event #${seq} does not link to the event before it (prev_hash mismatch)` };
  return null;
}

/** Splits [start, end) into `parts` ranges at line boundaries. */
export function splitLines(buf: Buffer, start: number, end: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  let s = start;
  for (let i = 1; i < parts && s < end; i++) {
    const target = start + Math.floor(((end - start) * i) / parts);
    if (target <= s) continue;
    const nl = buf.indexOf(NEWLINE, target);
    if (nl < 0 || nl >= end) break;
    out.push([s, nl + 1]);
    s = nl + 1;
  }
  out.push([s, end + 1]);
  return out;
}

function verifyFormat2(buf: Buffer, afterHeader: number, keys: TrustedKeys, published: PublishedCheckpoint[] | undefined): VerifyReport | null {
  const plan = planFormat2(buf, afterHeader, keys, published);
  if (!plan) return null;
  const block = scanBlock(buf, plan.eventsStart, plan.eventsEnd + 1, plan);
  if (!block) return null;
  return joinBlocks(buf, [block], plan, keys, published);
}

/** The report of the blocks (in file order): the boundaries between them checked here. */
export function joinBlocks(
  buf: Buffer,
  blocks: BlockResult[],
  plan: Format2Plan,
  keys: TrustedKeys,
  published: PublishedCheckpoint[] | undefined,
): VerifyReport {
  const { checkpoints, lastCheckpoint, requireFrom } = plan;
  let count = 0;
  let firstSeq: number | null = null;
  let lastSeq: number | null = null;
  let order: Problem | null = null;
  let chain: Problem | null = null;
  let prev: { seq: number; hash: string } | null = plan.fromGenesis ? { seq: 0, hash: GENESIS_HASH } : null;
  const hashes = new Map<number, string>();
  const unsigned: Kept[] = [];
  for (const b of blocks) {
    if (!b.first) continue;
    if (firstSeq === null) firstSeq = b.first.seq;
    if (!order && lastSeq !== null && b.first.seq <= lastSeq)
      order = { seq: b.first.seq, reason: `event #${b.first.seq} appears after #${lastSeq}: the export is out of order or has a duplicate` };
    order ??= b.order;
    if (!chain && !order) {
      if (prev) chain = linkProblem(plan.fromGenesis, prev, b.first.seq, b.first.prevHash);
      chain ??= b.chain;
    }
    count += b.count;
    lastSeq = b.last!.seq;
    prev = b.last;
    for (const [seq, h] of b.hashes) hashes.set(seq, h);
    for (const k of b.kept) unsigned.push(k);
  }
  // The chain's workspace (for the published heads): the first event's, read only when needed.
  const workspaceIdOf = () => {
    try {
      return (JSON.parse(firstEventBody(buf, plan.eventsStart)) as { workspaceId: string | null }).workspaceId;
    } catch {
      return null;
    }
  };
  const complete = count > 0 && firstSeq === 1 && lastSeq === count;
  const base = { events: count, firstSeq, lastSeq };
  const fail = (problem: Problem): VerifyReport => ({ ...base, intact: false, complete, checkpointsVerified: 0, problem });
  const done = (report: VerifyReport) => report;
  // As verifyExport: an export out of order is not called complete.
  if (order) return done({ ...fail(order), complete: false });
  if (chain) return done(fail(chain));
  // Signatures of the events no checkpoint vouches for (as verifyExport: all of them in a filtered export).
  const coveredUpTo = complete ? lastCheckpoint : 0;
  const sigProblem = checkEventSignatures(
    unsigned.filter((x) => x.seq > coveredUpTo),
    keys,
    requireFrom,
  );
  if (sigProblem) return done(fail(sigProblem));
  const last = complete ? (lastSeq ?? 0) : Number.MAX_SAFE_INTEGER;
  const cps = checkCheckpoints(checkpoints, (s) => hashes.get(s), last, keys);
  if (cps.problem) return done({ ...fail(cps.problem), checkpointsVerified: cps.verified });
  if (published) {
    const chainId = count ? (workspaceIdOf() ?? published[0]?.workspaceId ?? null) : (published[0]?.workspaceId ?? null);
    const pub = checkPublished(published, { workspaceId: chainId, hashAt: (s) => hashes.get(s), lastSeq: last, checkpoints, keys });
    if (pub.problem) return done({ ...fail(pub.problem), checkpointsVerified: cps.verified, publishedVerified: pub.verified });
    return done({ ...base, intact: true, complete, checkpointsVerified: cps.verified, publishedVerified: pub.verified, problem: null });
  }
  return done({ ...base, intact: true, complete, checkpointsVerified: cps.verified, problem: null });
}
