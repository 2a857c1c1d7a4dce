// Bytes served to clients and fetched from upstreams over time, drawn as an inline SVG: two areas on one scale,
// time on x, binary units on y. The gap between them is what the cache saved.
import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { formatBytes } from '../format.js';
import type { TrafficSeries } from '../types.js';

const height = 220;
const pad = { top: 12, right: 12, bottom: 28, left: 64 };

/** 1, 2 or 5 times a power of 1024-ish step, so that the y labels are round numbers in the unit shown. */
function niceMax(max: number): number {
  if (max <= 0) return 1024;
  const unit = 1024 ** Math.floor(Math.log(max) / Math.log(1024));
  const scaled = max / unit;
  const magnitude = 10 ** Math.floor(Math.log10(scaled));
  const step = [1, 2, 5, 10].find((s) => s * magnitude >= scaled) ?? 10;
  return step * magnitude * unit;
}

function timeLabel(at: number, spanMs: number): string {
  const d = new Date(at);
  if (spanMs > 2 * 86_400_000) return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** Draws at the container's real width (not a scaled viewBox), so the axis text keeps its size on a phone. */
function useWidth(): [RefObject<HTMLElement>, number] {
  const ref = useRef<HTMLElement>(null);
  const [width, setWidth] = useState(720);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(([entry]) => {
      if (entry) setWidth(Math.max(240, Math.floor(entry.contentRect.width)));
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

export function TrafficChart({ series }: { series: TrafficSeries }) {
  const [ref, width] = useWidth();
  const points = series.points;
  const served = points.reduce((s, p) => s + p.bytesServed, 0);
  const fetched = points.reduce((s, p) => s + p.bytesFetched, 0);
  const summary = `Bytes served ${formatBytes(served)} and fetched ${formatBytes(fetched)} over the period shown.`;
  if (served + fetched === 0) {
    return (
      <figure class="chart" ref={ref} data-testid="traffic-chart">
        <p class="empty">No traffic in this period yet.</p>
      </figure>
    );
  }

  const first = points[0]!.at;
  const last = points[points.length - 1]!.at + series.bucketMs;
  const span = Math.max(last - first, series.bucketMs);
  const top = niceMax(Math.max(...points.map((p) => Math.max(p.bytesServed, p.bytesFetched))));
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const x = (at: number): number => pad.left + ((at - first) / span) * plotW;
  const y = (bytes: number): number => pad.top + plotH - (bytes / top) * plotH;
  // Each bucket is drawn as a step covering its whole interval, so a single busy minute is still visible.
  const area = (pick: (p: (typeof points)[number]) => number): { line: string; fill: string } => {
    const coords: string[] = [];
    for (const p of points) {
      coords.push(`${x(p.at).toFixed(1)},${y(pick(p)).toFixed(1)}`, `${x(p.at + series.bucketMs).toFixed(1)},${y(pick(p)).toFixed(1)}`);
    }
    const line = `M${coords.join('L')}`;
    const base = y(0).toFixed(1);
    return { line, fill: `${line}L${x(last).toFixed(1)},${base}L${x(first).toFixed(1)},${base}Z` };
  };
  const servedPath = area((p) => p.bytesServed);
  const fetchedPath = area((p) => p.bytesFetched);
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * top);
  const xTicks = (width < 480 ? [0, 0.5, 1] : [0, 0.25, 0.5, 0.75, 1]).map((f) => first + f * span);

  return (
    <figure class="chart" ref={ref} data-testid="traffic-chart">
      <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label={summary}>
        {yTicks.map((v) => (
          <g key={v}>
            <line class="grid" x1={pad.left} x2={width - pad.right} y1={y(v)} y2={y(v)} />
            <text class="axis" x={pad.left - 8} y={y(v) + 4} text-anchor="end">
              {formatBytes(v)}
            </text>
          </g>
        ))}
        {xTicks.map((t, i) => (
          <text key={t} class="axis" x={x(t)} y={height - 8} text-anchor={i === 0 ? 'start' : i === xTicks.length - 1 ? 'end' : 'middle'}>
            {timeLabel(t, span)}
          </text>
        ))}
        <path class="area served" d={servedPath.fill} />
        <path class="area fetched" d={fetchedPath.fill} />
        {/* Served on top and thinner, so that both lines stay visible where they coincide (a cold cache). */}
        <path class="line fetched" d={fetchedPath.line} />
        <path class="line served" d={servedPath.line} />
      </svg>
      <figcaption class="legend">
        <span class="key served">Served to clients: {formatBytes(served)}</span>
        <span class="key fetched">Fetched from upstreams: {formatBytes(fetched)}</span>
      </figcaption>
    </figure>
  );
}
