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

/** A time series chart (uPlot) of sent and received rates, redrawn on theme changes. */
export function RateChart({ ts, sent, rcvd, label }: { ts: number[]; sent: number[]; rcvd: number[]; label: string }) {
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
          { label: 'sent', stroke: cssVar('--out'), width: 2, value: (_u, v) => (v == null ? '–' : bits(v)) },
          { label: 'received', stroke: cssVar('--in'), width: 2, value: (_u, v) => (v == null ? '–' : bits(v)) },
        ],
        axes: [axis, { ...axis, size: 80, values: (_u, vals) => vals.map((v) => bits(v)) }],
      },
      [ts, sent, rcvd],
      el,
    );
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height: 240 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [ts, sent, rcvd, theme]);
  return <div class="chart" ref={box} role="img" aria-label={label} />;
}
