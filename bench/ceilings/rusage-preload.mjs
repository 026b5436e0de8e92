// Preloaded (node --import) into every measured child: at exit, writes the process's own CPU time
// and peak RSS (getrusage: kernel accounting, no /usr/bin/time needed) to $PAYPIPE_BENCH_RUSAGE_FILE.
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  const file = process.env.PAYPIPE_BENCH_RUSAGE_FILE;
  if (file === undefined) return;
  const r = process.resourceUsage();
  writeFileSync(
    file,
    JSON.stringify({ userUs: r.userCPUTime, systemUs: r.systemCPUTime, maxRssKiB: r.maxRSS }),
  );
});
