// Small line drawings of the lab's instruments, chosen by kind.
import type { Status } from "../api/types";

export function InstrumentPicture({ kind, status }: { kind: string; status: Status }) {
  const k = kind.toLowerCase();
  const common = { className: `instrument-picture status-${status}`, viewBox: "0 0 96 72", "aria-hidden": true } as const;
  if (k.includes("balance"))
    return (
      <svg {...common}>
        <rect x="14" y="48" width="68" height="14" rx="3" className="body" />
        <rect x="22" y="51" width="26" height="8" rx="1" className="screen" />
        <rect x="28" y="14" width="40" height="32" rx="3" className="glass" />
        <rect x="34" y="38" width="28" height="4" rx="1" className="metal" />
        <circle cx="70" cy="55" r="3" className="led" />
      </svg>
    );
  if (k.includes("hplc") || k.includes("chrom"))
    return (
      <svg {...common}>
        <rect x="16" y="6" width="44" height="14" rx="2" className="body" />
        <rect x="16" y="22" width="44" height="14" rx="2" className="body" />
        <rect x="16" y="38" width="44" height="14" rx="2" className="body" />
        <rect x="16" y="54" width="44" height="12" rx="2" className="body" />
        <rect x="20" y="41" width="16" height="8" rx="1" className="screen" />
        <path d="M64 20 C 80 20, 80 44, 64 44" className="tube" />
        <rect x="66" y="46" width="16" height="20" rx="2" className="glass" />
        <circle cx="54" cy="13" r="2.5" className="led" />
      </svg>
    );
  if (k.includes("ph"))
    return (
      <svg {...common}>
        <rect x="10" y="34" width="38" height="30" rx="4" className="body" />
        <rect x="15" y="39" width="28" height="12" rx="1" className="screen" />
        <path d="M48 40 C 60 40, 62 20, 70 14" className="tube" />
        <rect x="66" y="10" width="8" height="40" rx="4" className="metal" />
        <path d="M58 46 h24 v16 a4 4 0 0 1 -4 4 h-16 a4 4 0 0 1 -4 -4z" className="glass" />
        <circle cx="41" cy="58" r="2.5" className="led" />
      </svg>
    );
  if (k.includes("dissol") || k.includes("bath"))
    return (
      <svg {...common}>
        <rect x="6" y="30" width="84" height="34" rx="4" className="glass" />
        <rect x="6" y="8" width="84" height="10" rx="2" className="body" />
        {[18, 38, 58, 78].map((x) => (
          <g key={x}>
            <line x1={x} y1="18" x2={x} y2="50" className="metal-line" />
            <path d={`M${x - 8} 36 h16 v18 a6 6 0 0 1 -6 6 h-4 a6 6 0 0 1 -6 -6z`} className="vessel" />
          </g>
        ))}
        <circle cx="84" cy="13" r="2.5" className="led" />
      </svg>
    );
  if (k.includes("compute") || k.includes("server") || k.includes("node"))
    return (
      <svg {...common}>
        {[8, 28, 48].map((y) => (
          <g key={y}>
            <rect x="20" y={y} width="56" height="16" rx="2" className="body" />
            <circle cx="66" cy={y + 8} r="2.5" className="led" />
            <rect x="26" y={y + 6} width="26" height="4" rx="1" className="screen" />
          </g>
        ))}
      </svg>
    );
  return (
    <svg {...common}>
      <rect x="14" y="14" width="68" height="46" rx="5" className="body" />
      <rect x="22" y="22" width="34" height="18" rx="2" className="screen" />
      <circle cx="70" cy="30" r="3" className="led" />
    </svg>
  );
}
