/*
 * P-values of the two-sample Kolmogorov–Smirnov test, as SciPy's
 * stats.ks_2samp(method="auto", alternative="two-sided") computes them:
 * - both samples ≤ 10,000 values: the exact distribution of D under the null (lattice paths,
 *   Hodges 1958; the 1 − p recursion of Viehmann 2021 for unequal sizes);
 * - otherwise, or when the exact count fails: the finite-n Kolmogorov distribution
 *   kstwo.sf(D, round(n·m/(n+m))) — Simard & L'Ecuyer (2011): Ruben–Gambino closed forms at the
 *   ends, Durbin's matrix (Marsaglia–Tsang–Wang), Pomeranz's recursion, Pelz–Good's expansion,
 *   and 2 × the exact one-sided Smirnov tail (Birnbaum–Tingey) where that is the better route.
 * A port of SciPy 1.17's scipy/stats/_stats_py.py, _stats_pythran.py and _ksstats.py (same
 * branches, same cut-offs); hand-written because no npm package computes the two-sample
 * exact or finite-n distribution. Checked against SciPy by reference/gen_drift_reference.py.
 */

/** Above this size on either side, SciPy's "auto" leaves the exact distribution. */
export const KS_EXACT_MAX_N = 10_000;

const E128 = 2 ** 128;
const EM128 = 2 ** -128;
const LOG_2PI = Math.log(2 * Math.PI);
const SQRT2PI = Math.sqrt(2 * Math.PI);
const PI2 = Math.PI ** 2;
const PI4 = Math.PI ** 4;
const PI6 = Math.PI ** 6;

const clip = (p: number) => Math.min(1, Math.max(0, p));

/** x · 2^e without overflowing or underflowing the factor on the way. */
function ldexp(x: number, e: number) {
  while (e > 1000) {
    x *= 2 ** 1000;
    e -= 1000;
  }
  while (e < -1000) {
    x *= 2 ** -1000;
    e += 1000;
  }
  return x * 2 ** e;
}

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

/** Rounding half to even, as numpy.round: SciPy takes kstwo's n as np.round(n·m/(n+m)), and 5000.5 → 5000. */
function roundHalfEven(x: number) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ---------------------------------------------------------------------------
// Exact two-sample distribution
// ---------------------------------------------------------------------------

/** P(D_{n,n} ≥ h/n): 2·Σ(−1)^(k−1) C(2n, n−kh)/C(2n, n), in Horner form (no cancellation). */
function probOutsideSquare(n: number, h: number) {
  let p = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    p = p1 * (1 - p);
  }
  return 2 * p;
}

/** The share of lattice paths (0,0)→(m,n) that leave |x/m − y/n| < h/lcm(m,n), computed as 1 − p directly. */
function outerProbInside(m: number, n: number, g: number, h: number) {
  if (m < n) [m, n] = [n, m];
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  A.fill(0, minj, maxj);
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (A[jj + minj - lastminj]! * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) A.fill(1, maxj - minj, maxj - minj + (lastlen - curlen));
  }
  return A[maxj - minj - 1]!;
}

/** SciPy's _attempt_exact_2kssamp (two-sided): D rounded to the lattice, and its exact p-value, or null when it cannot be computed. */
function exactTwoSample(n1: number, n2: number, d: number): { d: number; p: number } | null {
  const g = gcd(n1, n2);
  const lcm = (n1 / g) * n2;
  const h = roundHalfEven(d * lcm);
  const dd = h / lcm;
  if (h === 0) return { d: dd, p: 1 };
  const p = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInside(n1, n2, g, h);
  if (!Number.isFinite(p) || p < 0 || p > 1) return null;
  return { d: dd, p };
}

// ---------------------------------------------------------------------------
// One-sided Smirnov tail and the finite-n Kolmogorov distribution
// ---------------------------------------------------------------------------

/**
 * P(D⁺_n ≥ d), exactly (Birnbaum–Tingey 1951):
 * d · Σ_{j=0}^{⌊n(1−d)⌋} C(n, j) (1 − d − j/n)^(n−j) (d + j/n)^(j−1). Every term is positive, so
 * the sum is taken in logarithms (scaled by its largest term) without cancellation.
 */
export function smirnov(n: number, d: number) {
  if (!(d > 0)) return 1;
  if (d >= 1) return 0;
  const last = Math.floor(n * (1 - d) + 1e-12 * n);
  const logs = new Float64Array(last + 1);
  let logC = 0;
  let max = -Infinity;
  for (let j = 0; j <= last; j++) {
    if (j > 0) logC += Math.log((n - j + 1) / j);
    const a = 1 - d - j / n;
    const t = a <= 0 ? (n - j === 0 ? 0 : -Infinity) : (n - j) * Math.log(a);
    logs[j] = logC + t + (j - 1) * Math.log(d + j / n);
    if (logs[j]! > max) max = logs[j]!;
  }
  if (max === -Infinity) return 0;
  let s = 0;
  for (let j = 0; j <= last; j++) s += Math.exp(logs[j]! - max);
  return clip(d * s * Math.exp(max));
}

/** log(n!/n^n) by Stirling's series, n·log n removed up front. */
function logNFactorialDivNPowN(n: number) {
  // B₂ⱼ/(2j(2j−1)) for j = 8 … 1.
  const c = [-3617 / 122400, 1 / 156, -691 / 360360, 1 / 1188, -1 / 1680, 1 / 1260, -1 / 360, 1 / 12];
  const rn = 1 / n;
  let poly = 0;
  for (const k of c) poly = poly * (rn / n) + k;
  return Math.log(n) / 2 - n + LOG_2PI / 2 + rn * poly;
}

type Matrix = Float64Array[];
function matmul(a: Matrix, b: Matrix): Matrix {
  const m = a.length;
  const out = Array.from({ length: m }, () => new Float64Array(m));
  for (let i = 0; i < m; i++) {
    const oi = out[i]!;
    const ai = a[i]!;
    for (let k = 0; k < m; k++) {
      const aik = ai[k]!;
      if (aik === 0) continue;
      const bk = b[k]!;
      for (let j = 0; j < m; j++) oi[j] = oi[j]! + aik * bk[j]!;
    }
  }
  return out;
}

/** Pr(D_n ≤ d) by Durbin's matrix method as Marsaglia, Tsang & Wang (2003). */
function kolmogornDMTW(n: number, d: number) {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  let H: Matrix = Array.from({ length: m }, () => new Float64Array(m));
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    v[j - 1] = 1 - h ** j;
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = v[j - 1]! * fac;
  }
  const tt = Math.max(2 * h - 1, 0) ** m - 2 * h ** m;
  v[m - 1] = (1 + tt) * fac;
  for (let i = 1; i < m; i++) for (let r = i - 1; r < m; r++) H[r]![i] = w[r - (i - 1)]!;
  for (let r = 0; r < m; r++) H[r]![0] = v[r]!;
  for (let c = 0; c < m; c++) H[m - 1]![c] = v[m - 1 - c]!;

  let P: Matrix = Array.from({ length: m }, (_, i) => {
    const row = new Float64Array(m);
    row[i] = 1;
    return row;
  });
  let nn = n;
  let expnt = 0;
  let hExpnt = 0;
  while (nn > 0) {
    if (nn % 2) {
      P = matmul(P, H);
      expnt += hExpnt;
    }
    H = matmul(H, H);
    hExpnt *= 2;
    if (Math.abs(H[k - 1]![k - 1]!) > E128) {
      for (const row of H) for (let j = 0; j < m; j++) row[j] = row[j]! / E128;
      hExpnt += 128;
    }
    nn = Math.floor(nn / 2);
  }
  let p = P[k - 1]![k - 1]!;
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < EM128) {
      p *= E128;
      expnt -= 128;
    }
  }
  return clip(expnt !== 0 ? ldexp(p, expnt) : p);
}

function pomeranzJ1J2(i: number, n: number, ll: number, ceilf: number, roundf: number): [number, number] {
  let j1: number;
  let j2: number;
  if (i === 0) {
    j1 = -ll - ceilf - 1;
    j2 = ll + ceilf - 1;
  } else {
    const ip1div2 = Math.floor((i + 1) / 2);
    const ip1mod2 = (i + 1) % 2;
    if (ip1mod2 === 0) {
      if (ip1div2 === n + 1) {
        j1 = n - ll - ceilf - 1;
        j2 = n + ll + ceilf - 1;
      } else {
        j1 = ip1div2 - 1 - ll - roundf - 1;
        j2 = ip1div2 + ll - 1 + ceilf - 1;
      }
    } else {
      j1 = ip1div2 - 1 - ll - 1;
      j2 = ip1div2 + ll + roundf - 1;
    }
  }
  return [Math.max(j1 + 2, 0), Math.min(j2, n)];
}

/** Pr(D_n ≤ x) by Pomeranz's (1974) recursion. */
function kolmogornPomeranz(n: number, x: number) {
  const t = n * x;
  const ll = Math.floor(t);
  const f = t - ll;
  const g = Math.min(f, 1 - f);
  const ceilf = f > 0 ? 1 : 0;
  const roundf = f > 0.5 ? 1 : 0;
  const npwrs = 2 * (ll + 1);
  const gpower = new Float64Array(npwrs);
  const twogpower = new Float64Array(npwrs);
  const onem2gpower = new Float64Array(npwrs);
  gpower[0] = twogpower[0] = onem2gpower[0] = 1;
  let expnt = 0;
  for (let m = 1; m < npwrs; m++) {
    gpower[m] = (gpower[m - 1]! * (g / n)) / m;
    twogpower[m] = (twogpower[m - 1]! * ((2 * g) / n)) / m;
    onem2gpower[m] = (onem2gpower[m - 1]! * ((1 - 2 * g) / n)) / m;
  }
  let V0 = new Float64Array(npwrs);
  let V1 = new Float64Array(npwrs);
  V1[0] = 1;
  let V0s = 0;
  let V1s = 0;
  let j1 = pomeranzJ1J2(0, n, ll, ceilf, roundf)[0];
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1;
    [V0, V1] = [V1, V0];
    [V0s, V1s] = [V1s, V0s];
    V1.fill(0);
    const [nextJ1, j2] = pomeranzJ1J2(i, n, ll, ceilf, roundf);
    j1 = nextJ1;
    const pwrs = i === 1 || i === 2 * n + 1 ? gpower : i % 2 ? twogpower : onem2gpower;
    const ln2 = j2 - k1 + 1;
    if (ln2 > 0) {
      // np.convolve(V0[k1 - V0s : k1 - V0s + ln2], pwrs[:ln2]), entries conv_start … conv_start + conv_len − 1.
      const a = V0.subarray(k1 - V0s, k1 - V0s + ln2);
      const b = pwrs.subarray(0, ln2);
      const convStart = j1 - k1;
      const convLen = j2 - j1 + 1;
      let max = 0;
      for (let c = 0; c < convLen; c++) {
        const idx = convStart + c;
        let s = 0;
        for (let q = Math.max(0, idx - (b.length - 1)); q <= Math.min(idx, a.length - 1); q++) s += a[q]! * b[idx - q]!;
        V1[c] = s;
        if (s > max) max = s;
      }
      if (max > 0 && max < EM128) {
        for (let c = 0; c < V1.length; c++) V1[c] = V1[c]! * E128;
        expnt -= 128;
      }
      V1s = V0s + j1 - k1;
    }
  }
  let ans = V1[n - V1s]!;
  for (let m = 1; m <= n; m++) {
    if (Math.abs(ans) > E128) {
      ans *= EM128;
      expnt += 128;
    }
    ans *= m;
  }
  return clip(expnt !== 0 ? ldexp(ans, expnt) : ans);
}

/** Pr(D_n ≤ x) by the Pelz–Good (1976) expansion to order n^(−3/2). */
function kolmogornPelzGood(n: number, x: number) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z3 = z2 * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const qlog = -PI2 / 8 / z2;
  if (qlog < -708) return 0;
  let q = Math.exp(qlog);
  const k1a = -z2;
  const k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4;
  const k2c = (PI4 * (1 - 2 * z2)) / 16;
  const k3d = (PI6 * (5 - 30 * z2)) / 64;
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;
  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const m2 = m * m;
    const m4 = m2 * m2;
    const m6 = m4 * m2;
    const qpower = q ** (8 * k);
    const coeffs = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
    for (let i = 0; i < 4; i++) K[i] = K[i]! * qpower + coeffs[i]!;
  }
  const div = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i]! * q * SQRT2PI) / div[i]!;
  q = Math.exp(-PI2 / 2 / z2);
  let k2extra = 0;
  let k3extra = 0;
  const sqrt3z = Math.sqrt(3) * z;
  for (let k = maxk; k > 0; k--) {
    const k2 = k * k;
    const qp = q ** k2;
    k2extra += k2 * qp;
    const kspi = Math.PI * k;
    k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * k2 * qp;
  }
  K[2] = K[2]! + (k2extra * PI2 * SQRT2PI) / (-36 * z3);
  K[3] = K[3]! + (k3extra * PI2 * SQRT2PI) / (216 * z6);
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += K[i]! / n ** (i / 2);
  return sum;
}

/** Survival function of the two-sided one-sample KS statistic D_n (SciPy's kstwo.sf(x, n)). */
export function kolmogorovSfN(n: number, x: number): number {
  if (!Number.isInteger(n) || n <= 0) return NaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    let prob: number;
    if (n <= 140) {
      prob = 1;
      for (let i = 1; i <= n; i++) prob *= i * (1 / n) * (2 * t - 1);
    } else prob = Math.exp(logNFactorialDivNPowN(n) + n * Math.log(2 * t - 1));
    return clip(1 - prob);
  }
  if (t >= n - 1) return clip(2 * (1 - x) ** n);
  if (x >= 0.5) return clip(2 * smirnov(n, x));
  const nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 0.754693) return clip(1 - kolmogornDMTW(n, x));
    if (nx2 <= 4) return clip(1 - kolmogornPomeranz(n, x));
    return clip(2 * smirnov(n, x));
  }
  if (nx2 >= 370) return 0;
  if (nx2 >= 2.2) return clip(2 * smirnov(n, x));
  const cdf = nx2 >= 18 ? 1 : n <= 100_000 && n * x ** 1.5 <= 1.4 ? kolmogornDMTW(n, x) : kolmogornPelzGood(n, x);
  return clip(1 - cdf);
}

/** Survival function of the limiting Kolmogorov distribution, Pr(K > x) (SciPy's kstwobign.sf). */
export function kolmogorovSf(x: number) {
  if (x <= 0) return 1;
  if (x < 0.3) {
    // The alternating series converges slowly here; use the complementary (Jacobi) form.
    const y = PI2 / (8 * x * x);
    let s = 0;
    for (let k = 1; k < 100; k += 2) s += Math.exp(-k * k * y);
    return 1 - (Math.sqrt(2 * Math.PI) / x) * s;
  }
  let s = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * x * x);
    s += (k % 2 ? 1 : -1) * term;
    if (term < 1e-16) break;
  }
  return clip(2 * s);
}

export type KsMethod = "exact" | "asymptotic";

/**
 * The two-sided p-value of D for samples of sizes n1 and n2, as ks_2samp(method="auto"):
 * exact when both are ≤ 10,000 (falling back when the count fails), otherwise
 * kstwo.sf(D, round(n1·n2/(n1+n2))). Returns D as SciPy reports it (rounded to the lattice
 * h/lcm(n1, n2) on the exact route).
 */
export function ksTwoSamplePValue(n1: number, n2: number, d: number): { statistic: number; pValue: number; method: KsMethod } {
  if (Math.max(n1, n2) <= KS_EXACT_MAX_N) {
    const exact = exactTwoSample(n1, n2, d);
    if (exact) return { statistic: exact.d, pValue: clip(exact.p), method: "exact" };
  }
  const [m, n] = n1 >= n2 ? [n1, n2] : [n2, n1];
  const en = (m * n) / (m + n);
  return { statistic: d, pValue: kolmogorovSfN(roundHalfEven(en), d), method: "asymptotic" };
}
