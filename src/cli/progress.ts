/** A progress bar with rate and ETA for long CLI jobs (cli-progress), quiet when stdout is not a terminal. */
import * as cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total?: number): void;
  stop(): void;
}

export function progressBar(label: string, unit: string, total: number): Progress {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} |{bar}| {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
      hideCursor: true,
      noTTYOutput: !process.stdout.isTTY,
      notTTYSchedule: 5000,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  const start = Date.now();
  bar.start(Number.isFinite(total) && total > 0 ? total : 0, 0, {rate: '0.0'});
  return {
    update(done: number, newTotal?: number) {
      if (newTotal != null && newTotal > 0) bar.setTotal(newTotal);
      if (done > bar.getTotal()) bar.setTotal(done);
      bar.update(done, {rate: (done / Math.max((Date.now() - start) / 1000, 1e-3)).toFixed(1)});
    },
    stop() {
      bar.stop();
    },
  };
}

/**
 * Ctrl-C handling for a long job: the first Ctrl-C asks the job to stop after the work in flight
 * (`stopRequested()` turns true), a second one exits at once (130). Call `release()` when done.
 */
export function interruptible(what: string): {stopRequested: () => boolean; release: () => void} {
  let stop = false;
  const onSigint = () => {
    if (stop) process.exit(130);
    stop = true;
    console.error(`\ninterrupted: finishing ${what} (Ctrl-C again to abort without output)`);
  };
  process.on('SIGINT', onSigint);
  return {stopRequested: () => stop, release: () => process.off('SIGINT', onSigint)};
}
