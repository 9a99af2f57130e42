import { useId } from "react";
import type { OutputView, Peak } from "../lib/shapes";
import { ticks } from "../lib/shapes";
import { formatNumber } from "../lib/format";

const W = 760;
const H = 320;
const PAD = { left: 62, right: 18, top: 30, bottom: 46 };
const COLOURS = ["#0b61c4", "#c2410c", "#15803d", "#7c3aed", "#be185d", "#0e7490"];

/** Keep the shape of a long trace (min and max per pixel column) so the SVG stays light. */
export function downsample(x: number[], y: number[], buckets = 1200): [number[], number[]] {
  if (x.length <= buckets * 2) return [x, y];
  const size = x.length / buckets;
  const xs: number[] = [];
  const ys: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor(b * size);
    const to = Math.min(x.length, Math.floor((b + 1) * size));
    let lo = from;
    let hi = from;
    for (let i = from; i < to; i++) {
      if (y[i] < y[lo]) lo = i;
      if (y[i] > y[hi]) hi = i;
    }
    for (const i of lo < hi ? [lo, hi] : [hi, lo]) {
      xs.push(x[i]);
      ys.push(y[i]);
    }
  }
  return [xs, ys];
}

interface Line {
  label: string;
  x: number[];
  y: number[];
}

interface Scale {
  x: (v: number) => number;
  y: (v: number) => number;
}

function extent(values: number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}

function LineChart({
  lines,
  xLabel,
  yLabel,
  title,
  children,
  yPadTop = 0.08,
  markers = false,
}: {
  lines: Line[];
  xLabel: string;
  yLabel: string;
  title: string;
  children?: (scale: Scale) => React.ReactNode;
  yPadTop?: number;
  markers?: boolean;
}) {
  const clipId = useId().replace(/:/g, "");
  const [x0, x1] = extent(lines.flatMap((l) => l.x));
  const [yRawLo, yRawHi] = extent(lines.flatMap((l) => l.y));
  const y0 = yRawLo >= 0 && yRawLo <= yRawHi * 0.3 ? 0 : yRawLo - (yRawHi - yRawLo) * 0.05;
  const y1 = yRawHi + (yRawHi - y0) * yPadTop;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const scale: Scale = {
    x: (v) => PAD.left + ((v - x0) / (x1 - x0)) * plotW,
    y: (v) => PAD.top + plotH - ((v - y0) / (y1 - y0)) * plotH,
  };
  const xt = ticks(x0, x1, 8);
  const yt = ticks(y0, y1, 5);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title} className="chart-svg">
        <title>{title}</title>
        <clipPath id={clipId}>
          <rect x={PAD.left} y={PAD.top - 24} width={plotW} height={plotH + 24} />
        </clipPath>
        {yt.map((v) => (
          <g key={`y${v}`}>
            <line className="grid" x1={PAD.left} x2={W - PAD.right} y1={scale.y(v)} y2={scale.y(v)} />
            <text className="tick" x={PAD.left - 6} y={scale.y(v) + 4} textAnchor="end">
              {formatNumber(v, 3)}
            </text>
          </g>
        ))}
        {xt.map((v) => (
          <g key={`x${v}`}>
            <line className="axis" x1={scale.x(v)} x2={scale.x(v)} y1={PAD.top + plotH} y2={PAD.top + plotH + 5} />
            <text className="tick" x={scale.x(v)} y={PAD.top + plotH + 18} textAnchor="middle">
              {formatNumber(v, 3)}
            </text>
          </g>
        ))}
        <line className="axis" x1={PAD.left} x2={W - PAD.right} y1={PAD.top + plotH} y2={PAD.top + plotH} />
        <line className="axis" x1={PAD.left} x2={PAD.left} y1={PAD.top} y2={PAD.top + plotH} />
        <text className="axis-label" x={PAD.left + plotW / 2} y={H - 8} textAnchor="middle">
          {xLabel}
        </text>
        <text className="axis-label" transform={`translate(14 ${PAD.top + plotH / 2}) rotate(-90)`} textAnchor="middle">
          {yLabel}
        </text>
        <g clipPath={`url(#${clipId})`}>
          {lines.map((l, i) => {
            const [xs, ys] = downsample(l.x, l.y);
            const d = xs.map((x, j) => `${j ? "L" : "M"}${scale.x(x).toFixed(1)},${scale.y(ys[j]).toFixed(1)}`).join("");
            return (
              <g key={l.label}>
                <path className="line" d={d} stroke={COLOURS[i % COLOURS.length]} />
                {markers &&
                  xs.length <= 60 &&
                  xs.map((x, j) => <circle key={j} cx={scale.x(x)} cy={scale.y(ys[j])} r={3} fill={COLOURS[i % COLOURS.length]} />)}
              </g>
            );
          })}
          {children?.(scale)}
        </g>
      </svg>
      {lines.length > 1 && (
        <figcaption className="legend">
          {lines.map((l, i) => (
            <span key={l.label}>
              <i style={{ background: COLOURS[i % COLOURS.length] }} /> {l.label}
            </span>
          ))}
        </figcaption>
      )}
    </figure>
  );
}

function peakY(peak: Peak, t: number[], mau: number[]): number {
  let best = 0;
  for (let i = 1; i < t.length; i++) if (Math.abs(t[i] - peak.retention_min) < Math.abs(t[best] - peak.retention_min)) best = i;
  // the local maximum within a few samples of the retention time
  let top = mau[best];
  for (let i = Math.max(0, best - 5); i < Math.min(mau.length, best + 6); i++) top = Math.max(top, mau[i]);
  return top;
}

export function Chromatogram({ view }: { view: Extract<OutputView, { kind: "chromatogram" }> }) {
  const sorted = [...view.peaks].sort((a, b) => a.retention_min - b.retention_min);
  const title = `Chromatogram${view.wavelengthNm ? ` at ${view.wavelengthNm} nm` : ""}: ${sorted.length} peak${sorted.length === 1 ? "" : "s"}${sorted.length ? " (" + sorted.map((p) => p.name).join(", ") + ")" : ""}`;
  return (
    <div className="chart-block" data-chart="chromatogram">
      <h4>Chromatogram{view.wavelengthNm ? ` · ${view.wavelengthNm} nm` : ""}{view.runTimeMin ? ` · run ${formatNumber(view.runTimeMin, 3)} min` : ""}</h4>
      <LineChart lines={[{ label: "mAU", x: view.t, y: view.mau }]} xLabel="time (min)" yLabel="absorbance (mAU)" title={title} yPadTop={0.18}>
        {(scale) => {
          let lastX = -Infinity;
          let stagger = 0;
          return sorted.map((p) => {
            const top = peakY(p, view.t, view.mau);
            const x = scale.x(p.retention_min);
            stagger = x - lastX < 70 ? (stagger + 1) % 3 : 0;
            lastX = x;
            const y = scale.y(top) - 8 - stagger * 13;
            return (
              <g key={`${p.name}-${p.retention_min}`} className="peak-label" data-peak={p.name}>
                <line x1={x} x2={x} y1={scale.y(top) - 2} y2={y + 3} />
                <text x={x} y={y} textAnchor="middle">
                  {p.name || "peak"} {formatNumber(p.retention_min, 3)}′
                </text>
              </g>
            );
          });
        }}
      </LineChart>
      {sorted.length > 0 && (
        <table className="data compact">
          <caption className="sr-only">Peaks</caption>
          <thead>
            <tr>
              <th>peak</th>
              <th>RT (min)</th>
              <th>area (mAU·s)</th>
              <th>height (mAU)</th>
              <th>width (min)</th>
              <th>tailing</th>
              <th>plates</th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((p) => (
              <tr key={`${p.name}-${p.retention_min}`}>
                <td>{p.name}</td>
                <td className="num">{formatNumber(p.retention_min, 3)}</td>
                <td className="num">{p.area != null ? formatNumber(p.area, 5) : "—"}</td>
                <td className="num">{p.height != null ? formatNumber(p.height, 4) : "—"}</td>
                <td className="num">{p.width_min != null ? formatNumber(p.width_min, 3) : "—"}</td>
                <td className="num">{p.tailing != null ? formatNumber(p.tailing, 3) : "—"}</td>
                <td className="num">{p.plates != null ? formatNumber(p.plates, 5) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function MassReading({ view }: { view: Extract<OutputView, { kind: "mass" }> }) {
  return (
    <div className="chart-block" data-chart="mass">
      <h4>Mass reading</h4>
      <div className="mass">
        <span className="mass-value" aria-label={`mass ${view.massMg} ${view.unit}`}>
          {view.massMg.toFixed(2)} <small>{view.unit}</small>
        </span>
        {view.stable !== undefined && (
          <span className={`badge ${view.stable ? "status-succeeded" : "status-waiting"}`}>{view.stable ? "stable" : "not stable"}</span>
        )}
      </div>
      {view.readings && (
        <LineChart lines={[{ label: "mass", x: view.readings.t, y: view.readings.mass }]} xLabel="time (s)" yLabel="mass (mg)" title={`Settling curve, final ${view.massMg} ${view.unit}`} />
      )}
    </div>
  );
}

export function TimeSeries({ view }: { view: Extract<OutputView, { kind: "timeseries" }> }) {
  const lines = view.series.map((s) => ({ label: s.key, x: view.x.values, y: s.values }));
  return (
    <div className="chart-block" data-chart="timeseries">
      <h4>
        {view.title === "outputs" ? "" : `${view.title}: `}
        {view.series.map((s) => s.key).join(", ")} against {view.x.key}
      </h4>
      <LineChart lines={lines} xLabel={view.x.key} yLabel={view.series.length === 1 ? view.series[0].key : "value"} title={`${view.series.map((s) => s.key).join(", ")} against ${view.x.key}`} markers />
    </div>
  );
}

export function Scalars({ view }: { view: Extract<OutputView, { kind: "scalars" }> }) {
  return (
    <div className="chart-block" data-chart="scalars">
      <h4>Values</h4>
      <table className="data compact scalars">
        <tbody>
          {view.rows.map((r) => (
            <tr key={r.key}>
              <th scope="row">{r.key}</th>
              <td className="num">{typeof r.value === "number" ? formatNumber(r.value, 6) : String(r.value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function LogTail({ view }: { view: Extract<OutputView, { kind: "log" }> }) {
  return (
    <div className="chart-block" data-chart="log">
      {view.stdout && (
        <>
          <h4>stdout (tail)</h4>
          <pre className="log" tabIndex={0}>{view.stdout}</pre>
        </>
      )}
      {view.stderr && (
        <>
          <h4>stderr (tail)</h4>
          <pre className="log log-err" tabIndex={0}>{view.stderr}</pre>
        </>
      )}
    </div>
  );
}

export function OutputViewer({ view }: { view: OutputView }) {
  switch (view.kind) {
    case "chromatogram":
      return <Chromatogram view={view} />;
    case "mass":
      return <MassReading view={view} />;
    case "timeseries":
      return <TimeSeries view={view} />;
    case "scalars":
      return <Scalars view={view} />;
    case "log":
      return <LogTail view={view} />;
  }
}
