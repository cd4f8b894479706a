import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string[];
  subject: string;
  text: string;
}

/**
 * A real SMTP server (smtp-server, as the dev mail catcher) that misbehaves on demand, for the mail
 * tests: it refuses chosen recipients for good (550) or for now (450), can stop answering after the
 * TCP connect (`hang`), and counts connections. A server that is down is a port nothing listens on
 * yet: pass that port to startTestSmtp later to bring it up.
 */
export interface TestSmtp {
  port: number;
  /** Every mail accepted, in order. */
  received: ReceivedMail[];
  /** Recipients answered `550 5.1.1 No such user` at RCPT TO. */
  rejectForGood: Set<string>;
  /** Recipients answered `450 4.2.1 Mailbox busy` at RCPT TO. */
  rejectForNow: Set<string>;
  /**
   * While true, the server stops answering: a new connection gets no greeting and a mail on an open
   * one no reply to MAIL FROM, so the client waits until its own timeout.
   */
  hang: boolean;
  /** Ends `hang`: whatever still waits is told 421 (closing) and what comes next is served. */
  stopHanging(): void;
  /** Milliseconds the server takes to accept each mail's data. */
  dataDelayMs: number;
  /** Connections opened so far, and the most open at once. */
  connections: number;
  maxOpen: number;
  /** The mails addressed to `address`. */
  to(address: string): ReceivedMail[];
  close(): Promise<void>;
}

const smtpError = (responseCode: number, message: string) =>
  Object.assign(new Error(message), { responseCode });

export async function startTestSmtp(port = 0): Promise<TestSmtp> {
  let open = 0;
  const waiting: Array<() => void> = [];
  const state: TestSmtp = {
    port,
    received: [],
    rejectForGood: new Set(),
    rejectForNow: new Set(),
    hang: false,
    dataDelayMs: 0,
    connections: 0,
    maxOpen: 0,
    to: (address) => state.received.filter((m) => m.to.includes(address)),
    stopHanging: () => {
      state.hang = false;
      for (const answer of waiting.splice(0)) answer();
    },
    close: async () => {
      state.stopHanging();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    banner: 'rostersync test mail server',
    // Hung connections must not hold up the end of a test.
    closeTimeout: 100,
    onConnect(_session, callback) {
      state.connections++;
      state.maxOpen = Math.max(state.maxOpen, ++open);
      if (state.hang) waiting.push(() => callback(smtpError(421, 'Closing')));
      else callback();
    },
    onMailFrom(_address, _session, callback) {
      if (state.hang) waiting.push(() => callback(smtpError(421, 'Closing')));
      else callback();
    },
    onClose() {
      open--;
    },
    onRcptTo(address, _session, callback) {
      if (state.rejectForGood.has(address.address)) return callback(smtpError(550, '5.1.1 No such user'));
      if (state.rejectForNow.has(address.address)) return callback(smtpError(450, '4.2.1 Mailbox busy'));
      callback();
    },
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (parsed) => {
          const to = (Array.isArray(parsed.to) ? parsed.to : parsed.to ? [parsed.to] : []).flatMap((a) =>
            a.value.map((v) => v.address ?? ''),
          );
          setTimeout(() => {
            state.received.push({ to, subject: parsed.subject ?? '', text: parsed.text ?? '' });
            callback();
          }, state.dataDelayMs);
        },
        (err: Error) => callback(err),
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  // Errors of single connections (a client that hung up) are the tests' business, not a crash.
  server.on('error', () => undefined);
  const address = server.server.address();
  state.port = typeof address === 'object' && address ? address.port : port;
  return state;
}
