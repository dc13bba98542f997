import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { bits } from '../format';
import { useTheme } from '../theme';

/** A throughput sparkline (SVG: attributes only, nothing for the CSP to refuse). */
export function Sparkline({ values, label }: { values: number[]; label: string }) {
  const w = 160;
  const h = 36;
  if (values.length < 2) {
    return <span class="muted">no history yet</span>;
  }
  const max = Math.max(...values, 1);
  const step = w / (values.length - 1);
  const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`).join(' ');
  return (
    <svg class="sparkline" viewBox={`0 0 ${w} ${h}`} role="img" aria-label={label} preserveAspectRatio="none">
      <polyline points={`0,${h} ${pts} ${w},${h}`} class="area" />
      <polyline points={pts} class="line" />
    </svg>
  );
}

/** Inbound vs outbound shares of a host's traffic. */
export function InOutBar({ inbound, outbound }: { inbound: number; outbound: number }) {
  const i = Math.max(0, Math.min(100, inbound));
  const o = Math.max(0, Math.min(100 - i, outbound));
  return (
    <svg class="inout" viewBox="0 0 100 10" preserveAspectRatio="none" role="img"
      aria-label={`inbound ${i.toFixed(1)} %, outbound ${o.toFixed(1)} %`}>
      <title>{`in ${i.toFixed(1)} % / out ${o.toFixed(1)} %`}</title>
      <rect class="in" x="0" y="0" width={i} height="10" />
      <rect class="out" x={i} y="0" width={o} height="10" />
    </svg>
  );
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

export interface Series {
  label: string;
  values: number[];
  /** A CSS variable holding the line's colour. */
  color: string;
}

/** A time series chart (uPlot) of rates in bit/s, redrawn on theme changes. */
export function RateChart({ ts, series, label }: { ts: number[]; series: Series[]; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const theme = useTheme();
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axis = { stroke: cssVar('--fg-muted'), grid: { stroke: cssVar('--grid') }, ticks: { stroke: cssVar('--grid') } };
    const plot = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: 240,
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: cssVar(s.color),
            width: 2,
            value: (_u: uPlot, v: number | null) => (v == null ? '–' : bits(v)),
          })),
        ],
        axes: [axis, { ...axis, size: 80, values: (_u, vals) => vals.map((v) => bits(v)) }],
      },
      [ts, ...series.map((s) => s.values)],
      el,
    );
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height: 240 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [ts, series, theme]);
  return <div class="chart" ref={box} role="img" aria-label={label} />;
}

/** Rates per second from points that count what happened since the point before. */
export function rates<P extends { ts: string }>(points: P[], pick: ((p: P) => number)[]): { ts: number[]; values: number[][] } {
  const ts: number[] = [];
  const values: number[][] = pick.map(() => []);
  points.forEach((p, i) => {
    const t = Date.parse(p.ts) / 1000;
    const prev = i > 0 ? Date.parse(points[i - 1]?.ts ?? '') / 1000 : NaN;
    const next = i + 1 < points.length ? Date.parse(points[i + 1]?.ts ?? '') / 1000 : NaN;
    // An interval's length: to the previous point, else to the next; at least a second.
    const secs = Math.max(1, Number.isFinite(prev) ? t - prev : Number.isFinite(next) ? next - t : 10);
    ts.push(t);
    pick.forEach((f, k) => values[k]?.push((f(p) * 8) / secs));
  });
  return { ts, values };
}
