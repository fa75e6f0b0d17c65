/**
 * One clock for every process of a benchmark on this machine: the system's monotonic clock (what
 * `process.hrtime` reads), in milliseconds. Latencies measured across processes (a producer stamps a message,
 * a consumer reads the stamp) need it: `performance.timeOrigin + performance.now()` is not one clock, since each
 * process fixes its time origin from the wall clock as it starts, a millisecond or more apart between processes
 * (end-to-end latencies at 1,000 msgs/s read as low as -0.9 ms with it).
 */
export const machineMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** machineMs() less performance.now() in this process: both read the monotonic clock, so it stays fixed. */
export const perfToMachineMs = machineMs() - performance.now();
