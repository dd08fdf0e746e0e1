export interface ProgressState {
  phase: 'submit' | 'poll';
  total: number;
  /** Jobs the proxy accepted so far. */
  submitted: number;
  succeeded: number;
  failed: number;
  round: number;
  rounds: number;
}

/** Everything the runner prints goes through here, so result lines never tear the progress bar. */
export interface Reporter {
  /** A result line on stdout. */
  line(text: string): void;
  /** A problem line on stderr. */
  warn(text: string): void;
  update(state: ProgressState): void;
  /** Leaves the terminal clean for the summary. */
  end(): void;
}

export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const BAR_WIDTH = 30;

function describe(state: ProgressState): { label: string; done: number; tail: string } {
  if (state.phase === 'submit') {
    return { label: 'submitting', done: state.submitted + state.failed, tail: state.failed > 0 ? `rejected ${state.failed}` : '' };
  }
  return {
    label: 'waiting',
    done: state.succeeded + state.failed,
    tail: `ok ${state.succeeded}  failed ${state.failed}  round ${state.round}/${state.rounds}`,
  };
}

/** Draws `label [#####-----] 3/6 ...` on one line, rewritten in place. */
export function renderBar(state: ProgressState, columns: number): string {
  const { label, done, tail } = describe(state);
  const ratio = state.total === 0 ? 1 : Math.min(1, done / state.total);
  const filled = Math.round(ratio * BAR_WIDTH);
  const text = `${label.padEnd(10)} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${done}/${state.total}  ${tail}`.trimEnd();
  // One character short of the width: writing the last column makes some terminals wrap.
  return text.slice(0, Math.max(10, columns - 1));
}

function ttyReporter(stdout: Output, stderr: Output): Reporter {
  let drawn = '';
  const clear = () => {
    if (drawn !== '') stderr.write('\r\x1b[K');
  };
  const redraw = () => {
    if (drawn !== '') stderr.write(drawn);
  };
  return {
    line(text) {
      clear();
      stdout.write(`${text}\n`);
      redraw();
    },
    warn(text) {
      clear();
      stderr.write(`${text}\n`);
      redraw();
    },
    update(state) {
      clear();
      // A pseudo-terminal without a size reports 0 columns.
      drawn = renderBar(state, stderr.columns && stderr.columns > 20 ? stderr.columns : 80);
      stderr.write(drawn);
    },
    end() {
      clear();
      drawn = '';
    },
  };
}

function plainReporter(stdout: Output, stderr: Output): Reporter {
  let last = '';
  return {
    line: (text) => void stdout.write(`${text}\n`),
    warn: (text) => void stderr.write(`${text}\n`),
    update(state) {
      // Only when a count moves: a log file should not get one line per polling round.
      const { label, done } = describe(state);
      const key = `${label} ${done} ${state.submitted} ${state.succeeded} ${state.failed}`;
      if (key === last) return;
      last = key;
      const detail = state.phase === 'submit' ? `${done}/${state.total} sent` : `${done}/${state.total} done (ok ${state.succeeded}, failed ${state.failed})`;
      stderr.write(`progress: ${label} ${detail}\n`);
    },
    end() {},
  };
}

/** A bar on stderr when it is a terminal, plain progress lines otherwise. */
export function createReporter(stdout: Output, stderr: Output): Reporter {
  return stderr.isTTY ? ttyReporter(stdout, stderr) : plainReporter(stdout, stderr);
}
