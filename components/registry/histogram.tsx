/** A small inline histogram: bars scaled to the largest bin. */
export function Sparkbars({ counts, width = 120, height = 28, label }: { counts: number[]; width?: number; height?: number; label: string }) {
  const max = Math.max(1, ...counts);
  const w = width / counts.length;
  return (
    <svg width={width} height={height} role="img" aria-label={label} className="text-accent">
      {counts.map((c, i) => {
        const h = Math.max(c > 0 ? 1 : 0, (c / max) * height);
        return <rect key={i} x={i * w + 0.5} y={height - h} width={Math.max(1, w - 1)} height={h} fill="currentColor" opacity={0.75} />;
      })}
    </svg>
  );
}

export function TopValues({ top, total }: { top: { value: string; count: number }[]; total: number }) {
  return (
    <div className="w-48 space-y-0.5">
      {top.slice(0, 4).map((t) => (
        <div key={t.value} className="flex items-center gap-2 text-xs">
          <div className="h-1.5 rounded bg-accent/70" style={{ width: `${Math.max(4, (t.count / Math.max(1, total)) * 80)}px` }} />
          <span className="truncate" title={t.value}>
            {t.value}
          </span>
          <span className="ml-auto text-muted tabular-nums">{t.count}</span>
        </div>
      ))}
    </div>
  );
}
