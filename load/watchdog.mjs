// Loaded (`--import`) into every process the bench starts, before its own entry module. If the bench
// dies without stopping its children (SIGKILL, a crash), the child sees its parent change and shuts
// itself down with SIGTERM — its normal drain — and exits hard 5 s later. A child also never
// outlives BENCH_CHILD_MAX_SECONDS (default 1800), so nothing the lab starts runs unbounded.
const parent = process.ppid;
const maxSeconds = Number(process.env.BENCH_CHILD_MAX_SECONDS ?? 1800);
const bornAt = Date.now();

const stop = () => {
  clearInterval(timer);
  process.kill(process.pid, "SIGTERM");
  setTimeout(() => process.exit(1), 5000).unref();
};

const timer = setInterval(() => {
  if (process.ppid !== parent || Date.now() - bornAt > maxSeconds * 1000) stop();
}, 500);
timer.unref();

export {};
