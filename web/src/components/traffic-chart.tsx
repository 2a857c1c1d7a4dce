// Bytes served to clients and fetched from upstreams over time, drawn as an inline SVG on one scale: served as a
// filled area, fetched as a line of its own colour on top (two translucent areas would blend into a third colour).
// Time on x, bytes per bucket on y (a minute for the last hour, five minutes up to a day, an hour beyond), the
// unit written on the axis and in the legend.
import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { formatBytes } from '../format.js';
import type { TrafficSeries } from '../types.js';

const height = 240;
const pad = { top: 26, right: 12, bottom: 28, left: 72 };

/** `per minute`, `per 5 minutes`, `per hour`: what one point of the chart adds up. */
export function bucketUnit(bucketMs: number): string {
  if (bucketMs === 60_000) return 'per minute';
  if (bucketMs === 3_600_000) return 'per hour';
  if (bucketMs % 3_600_000 === 0) return `per ${bucketMs / 3_600_000} hours`;
  return `per ${Math.round(bucketMs / 60_000)} minutes`;
}

/**
 * The top of the scale: the busiest bucket with a little room above, rounded up to a step that splits into four
 * round labels in the unit shown (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8 or 10 of a power of ten), so a 2.3 MiB peak
 * tops out at 2.4 MiB, not 5 MiB.
 */
function niceMax(max: number): number {
  if (max <= 0) return 1024;
  const unit = 1024 ** Math.floor(Math.log(max) / Math.log(1024));
  const scaled = (max * 1.05) / unit;
  const magnitude = 10 ** Math.floor(Math.log10(scaled));
  const step = [1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10].find((s) => s * magnitude >= scaled) ?? 10;
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
  const unit = bucketUnit(series.bucketMs);
  const summary = `Bytes served ${formatBytes(served)} and fetched ${formatBytes(fetched)} over the period shown, ${unit}.`;
  if (served + fetched === 0) {
    return (
      <figure class="chart" ref={ref} data-testid="traffic-chart" data-unit={unit}>
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
    <figure class="chart" ref={ref} data-testid="traffic-chart" data-unit={unit}>
      <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label={summary}>
        <text class="axis unit" x={0} y={14} text-anchor="start" data-testid="chart-unit">
          {unit}
        </text>
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
        <path class="line served" d={servedPath.line} />
        {/* Fetched on top, dashed and in its own colour: where it equals served (a cold cache) both stay visible. */}
        <path class="line fetched" d={fetchedPath.line} />
      </svg>
      <figcaption class="legend">
        <span class="key served">Served to clients: {formatBytes(served)}</span>
        <span class="key fetched">Fetched from upstreams: {formatBytes(fetched)}</span>
        <span class="muted">bytes {unit}</span>
      </figcaption>
    </figure>
  );
}
