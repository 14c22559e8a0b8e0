// Preloaded into the action's process by run-action.mjs: on exit, writes the process's peak
// resident memory (KiB) to PEAK_RSS_FILE. On Linux that is VmHWM, the peak of the process's own
// memory: the kernel's maxRSS also counts the parent's pages a forked child held before it ran
// node, so a large parent (the benchmark, after bundling) would set a floor under every figure.
import { readFileSync, writeFileSync } from 'node:fs';

function peakKiB() {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]);
  } catch {
    // Not Linux: the kernel's counter is all there is.
  }
  return process.resourceUsage().maxRSS;
}

process.on('exit', () => {
  if (process.env.PEAK_RSS_FILE) writeFileSync(process.env.PEAK_RSS_FILE, String(peakKiB()));
});
