import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The production worker (dist/apps/worker/main.js) as a child process, so the soak can SIGKILL it
 * mid-run and start a fresh one, as a host failure would. Its output goes to a log file.
 */
export interface WorkerExit {
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The error the process printed last, from its log. */
  cause: string;
}

export class WorkerProcess {
  private child: ChildProcess | undefined;
  private exitExpected = false;
  /** Set by stop(): a restart planned before it (a fault, a crash) must not start a new worker. */
  private closed = false;
  starts = 0;
  /** Called when the worker exits without being told to (a crash), after it has exited. */
  onUnexpectedExit: (exit: WorkerExit) => void = () => undefined;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
  ) {}

  /** Starts the worker and resolves once it polls (it prints that line after bundling the workflows). */
  async start(timeoutMs = 120_000): Promise<void> {
    if (this.closed) throw new Error('the soak is stopping: the worker is not started again');
    const entry = path.resolve(__dirname, '../../apps/worker/main.js');
    const log = fs.openSync(this.logFile, 'a');
    const child = spawn(process.execPath, [entry], { env: this.env, stdio: ['ignore', 'pipe', log] });
    fs.closeSync(log);
    this.child = child;
    this.exitExpected = false;
    this.starts++;
    child.once('exit', (code, signal) => {
      if (!this.exitExpected)
        this.onUnexpectedExit({ pid: child.pid, code, signal, cause: this.lastError() });
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`the worker did not start polling within ${timeoutMs / 1000}s; see ${this.logFile}`),
          ),
        timeoutMs,
      );
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`the worker exited at start (code ${code}); see ${this.logFile}`));
      };
      child.once('exit', onExit);
      child.stdout?.on('data', (chunk: Buffer) => {
        fs.appendFileSync(this.logFile, chunk);
        if (chunk.toString().includes('worker polling')) {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve();
        }
      });
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** SIGKILL: no graceful shutdown, in-flight activities are abandoned mid-step. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL', 0);
  }

  /** SIGTERM with the SDK's graceful shutdown, SIGKILL if it takes longer than the grace time. */
  async stop(): Promise<void> {
    this.closed = true;
    await this.signal('SIGTERM', 20_000);
  }

  /** The last error in the log's tail, e.g. `Error: write EPIPE Emitted 'error' event on Client instance at: ...`. */
  private lastError(): string {
    const size = fs.statSync(this.logFile).size;
    const fd = fs.openSync(this.logFile, 'r');
    const tail = Buffer.alloc(Math.min(size, 8192));
    fs.readSync(fd, tail, 0, tail.length, size - tail.length);
    fs.closeSync(fd);
    const lines = tail.toString('utf8').split('\n');
    let errorAt = lines.length - 1;
    while (errorAt >= 0 && !/^\w*Error\b.*:/.test(lines[errorAt])) errorAt--;
    if (errorAt < 0) return 'no error printed';
    // An unhandled 'error' event names its emitter; the first frame in a package says which one.
    const after = lines.slice(errorAt + 1);
    const emitter = after.find((line) => line.startsWith("Emitted '"));
    const frame = after.find((line) => /^\s+at .*node_modules/.test(line));
    return [lines[errorAt], emitter, frame?.trim()].filter(Boolean).join(' ');
  }

  private async signal(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.exitExpected = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = graceMs > 0 ? setTimeout(() => child.kill('SIGKILL'), graceMs) : undefined;
    await exited;
    clearTimeout(timer);
  }
}
